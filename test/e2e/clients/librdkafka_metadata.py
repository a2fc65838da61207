"""Prints, as JSON, the cluster id, brokers and topics librdkafka (confluent-kafka) sees."""
import json
import sys

from confluent_kafka.admin import AdminClient

admin = AdminClient({"bootstrap.servers": sys.argv[1], "socket.timeout.ms": 5000})
metadata = admin.list_topics(timeout=10)
print(json.dumps({
    "cluster_id": metadata.cluster_id,
    "controller_id": metadata.controller_id,
    "brokers": [{"id": b.id, "host": b.host, "port": b.port} for b in metadata.brokers.values()],
    "topics": {name: len(t.partitions) for name, t in metadata.topics.items()},
}))

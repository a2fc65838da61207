"""Drives the topic admin APIs with librdkafka's AdminClient (confluent-kafka) and prints what it saw as JSON.

Usage: librdkafka_admin.py BOOTSTRAP TOPIC
"""
import json
import sys

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

bootstrap, topic = sys.argv[1], sys.argv[2]
admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 10000})
out = {}


def outcome(future):
    try:
        future.result()
        return "OK"
    except KafkaException as e:
        return e.args[0].name()


def configs_of(name):
    resource = ConfigResource("TOPIC", name)
    entries = admin.describe_configs([resource], request_timeout=15)[resource].result()
    return {
        key: {"value": e.value, "source": int(e.source), "read_only": e.is_read_only, "default": e.is_default}
        for key, e in entries.items()
    }


created = admin.create_topics(
    [
        NewTopic(topic, num_partitions=2, replication_factor=1, config={"retention.ms": "172800000", "compression.type": "lz4"}),
        NewTopic(topic + "-compacted", num_partitions=1, replication_factor=1, config={"cleanup.policy": "compact"}),
    ],
    operation_timeout=20,
    request_timeout=30,
)
out["create"] = {name: outcome(f) for name, f in created.items()}
out["create_again"] = outcome(admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)], request_timeout=30)[topic])

metadata = admin.list_topics(timeout=10)
out["partitions"] = len(metadata.topics[topic].partitions) if topic in metadata.topics else None
out["configs"] = configs_of(topic)

resource = ConfigResource("TOPIC", topic, set_config={"retention.ms": "259200000"})
out["alter"] = outcome(admin.alter_configs([resource], request_timeout=30)[resource])
out["retention_after_alter"] = configs_of(topic)["retention.ms"]["value"]

out["create_partitions"] = outcome(admin.create_partitions([NewPartitions(topic, 4)], request_timeout=30)[topic])
out["shrink_partitions"] = outcome(admin.create_partitions([NewPartitions(topic, 3)], request_timeout=30)[topic])
out["partitions_after"] = len(admin.list_topics(topic=topic, timeout=10).topics[topic].partitions)

out["delete"] = outcome(admin.delete_topics([topic], operation_timeout=20, request_timeout=30)[topic])
out["listed_after_delete"] = topic in admin.list_topics(timeout=10).topics

print(json.dumps(out))

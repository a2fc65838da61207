"""Produces records with librdkafka (confluent-kafka) and prints the delivery reports as JSON.

argv[1] is a JSON spec: bootstrap, topic, partition, compression, client_id, and records, each
{key, value, headers: [[name, value]], timestamp}, where key and values are hex strings or null.
"""
import json
import sys

from confluent_kafka import Producer


def unhex(value):
    return None if value is None else bytes.fromhex(value)


spec = json.loads(sys.argv[1])
producer = Producer({
    "bootstrap.servers": spec["bootstrap"],
    "client.id": spec.get("client_id", "kkg-test-python"),
    "compression.type": spec.get("compression", "none"),
    "linger.ms": 100,
    "acks": spec.get("acks", -1),
    "socket.timeout.ms": 10000,
    "message.timeout.ms": 20000,
})
reports = []


def on_delivery(err, msg):
    reports.append({
        "error": None if err is None else str(err),
        "partition": msg.partition(),
        "offset": msg.offset(),
    })


# Connect and learn the partitions first, so that the records are queued together and leave
# in one batch rather than the first alone once the connection is up.
producer.list_topics(spec["topic"], timeout=10)
for record in spec["records"]:
    kwargs = {
        "key": unhex(record.get("key")),
        "value": unhex(record.get("value")),
        "headers": [(name, unhex(value)) for name, value in record.get("headers", [])],
        "on_delivery": on_delivery,
    }
    if spec.get("partition") is not None:
        kwargs["partition"] = spec["partition"]
    if record.get("timestamp") is not None:
        kwargs["timestamp"] = record["timestamp"]
    producer.produce(spec["topic"], **kwargs)
left = producer.flush(20)
print(json.dumps({"unflushed": left, "reports": reports}))

"""Produces records with librdkafka (confluent-kafka) and prints the delivery reports as JSON.

argv[1] is a JSON spec ("-": read it from standard input): bootstrap, topic, partition (null:
librdkafka's partitioner chooses), compression, client_id, acks, and records, each {key, value,
headers: [[name, value]], timestamp}, where key and values are hex strings or null. Optional
"config" holds more librdkafka properties.
"""
import json
import os
import sys

from confluent_kafka import Producer


def unhex(value):
    return None if value is None else bytes.fromhex(value)


spec = json.loads(sys.stdin.read() if sys.argv[1] == "-" else sys.argv[1])
producer = Producer({
    "bootstrap.servers": spec["bootstrap"],
    "client.id": spec.get("client_id", "kkg-test-python"),
    "compression.type": spec.get("compression", "none"),
    "linger.ms": 100,
    "acks": spec.get("acks", -1),
    "socket.timeout.ms": 10000,
    "message.timeout.ms": spec.get("message_timeout_ms", 20000),
    **spec.get("config", {}),
})
reports = []


def delivery_reporter(index):
    def on_delivery(err, msg):
        reports.append({
            "index": index,
            "error": None if err is None else str(err),
            "partition": msg.partition(),
            "offset": msg.offset(),
        })
    return on_delivery


# Connect and learn the partitions first, so that the records are queued together and leave
# in one batch rather than the first alone once the connection is up.
producer.list_topics(spec["topic"], timeout=10)
for index, record in enumerate(spec["records"]):
    kwargs = {
        "key": unhex(record.get("key")),
        "value": unhex(record.get("value")),
        "headers": [(name, unhex(value)) for name, value in record.get("headers", [])],
        "on_delivery": delivery_reporter(index),
    }
    if spec.get("partition") is not None:
        kwargs["partition"] = spec["partition"]
    if record.get("timestamp") is not None:
        kwargs["timestamp"] = record["timestamp"]
    while True:
        try:
            producer.produce(spec["topic"], **kwargs)
            break
        except BufferError:
            producer.poll(0.05)
    producer.poll(0)
left = producer.flush(spec.get("flush_timeout_s", 20))
print(json.dumps({"unflushed": left, "reports": reports}))
sys.stdout.flush()
# confluent-kafka 1.7 can crash while Python finalizes after it handed out null header values
# ("none_dealloc" refcount error): the output is complete, so skip finalization.
os._exit(0)

"""Consumes records with librdkafka (confluent-kafka) from an assigned partition, with no group
membership (assign(), no commits), and prints them as JSON.

argv[1] is a JSON spec: bootstrap, topic, partition, offset, count, client_id, timeout_s, and
optionally config (more librdkafka properties).
Keys, values and header values are printed as hex strings (null for null).
"""
import json
import os
import sys
import time

from confluent_kafka import Consumer, TopicPartition


# confluent-kafka 1.7 drops one reference to None too many for every null header value it hands
# out ("Fatal Python error: none_dealloc" once None's count reaches zero; Python 3.11's None is
# not immortal). Hold enough spare references for any test's records.
_SPARE_NONE_REFERENCES = [None] * 1_000_000


def tohex(value):
    return None if value is None else value.hex()


spec = json.loads(sys.argv[1])
consumer = Consumer({
    "bootstrap.servers": spec["bootstrap"],
    "client.id": spec.get("client_id", "kkg-test-python"),
    # confluent-kafka insists on a group id; assign() without commits never joins it.
    "group.id": spec.get("group_id", "kkg-unused-group"),
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "fetch.wait.max.ms": 100,
    "socket.timeout.ms": 10000,
    **spec.get("config", {}),
})
consumer.assign([TopicPartition(spec["topic"], spec["partition"], spec.get("offset", 0))])
records = []
errors = []
deadline = time.time() + spec.get("timeout_s", 20)
while len(records) < spec["count"] and time.time() < deadline:
    msg = consumer.poll(0.2)
    if msg is None:
        continue
    if msg.error() is not None:
        errors.append(str(msg.error()))
        continue
    ts_type, ts = msg.timestamp()
    records.append({
        "offset": msg.offset(),
        "partition": msg.partition(),
        "key": tohex(msg.key()),
        "value": tohex(msg.value()),
        "headers": [[name, tohex(value)] for name, value in (msg.headers() or [])],
        "timestamp_type": ts_type,
        "timestamp": ts,
    })
consumer.close()
print(json.dumps({"records": records, "errors": errors}))
sys.stdout.flush()
# confluent-kafka 1.7 can crash while Python finalizes after it handed out null header values
# ("none_dealloc" refcount error): the output is complete, so skip finalization.
os._exit(0)

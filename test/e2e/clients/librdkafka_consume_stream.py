"""Consumes a topic's partitions with librdkafka (confluent-kafka) from offset 0 with assign()
(no group, no commits) while the test does other things, e.g. restarts the broker, and prints
every record as JSON when told to stop.

argv[1] is a JSON spec: bootstrap, topic, partitions (list), stop_file, idle_s, timeout_s,
client_id. It stops once stop_file exists and no record came for idle_s seconds, or after
timeout_s. auto.offset.reset is "error": a position the broker no longer has is reported in
"errors" instead of silently jumping. Keys, values and header values are hex strings.
"""
import json
import os
import sys
import time

from confluent_kafka import Consumer, TopicPartition

# See librdkafka_consume.py: confluent-kafka 1.7 over-releases None for null header values.
_SPARE_NONE_REFERENCES = [None] * 1_000_000


def tohex(value):
    return None if value is None else value.hex()


spec = json.loads(sys.argv[1])
errors = []
consumer = Consumer({
    "bootstrap.servers": spec["bootstrap"],
    "client.id": spec.get("client_id", "kkg-test-python-stream"),
    "group.id": spec.get("group_id", "kkg-unused-group"),
    "enable.auto.commit": False,
    "enable.auto.offset.store": False,
    "auto.offset.reset": "error",
    "fetch.wait.max.ms": 100,
    "socket.timeout.ms": 10000,
    "reconnect.backoff.ms": 50,
    "reconnect.backoff.max.ms": 500,
    "error_cb": lambda err: errors.append("error_cb: " + str(err)),
})
consumer.assign([TopicPartition(spec["topic"], p, 0) for p in spec["partitions"]])
records = []
started = time.time()
last_record = time.time()
while time.time() - started < spec.get("timeout_s", 120):
    msg = consumer.poll(0.1)
    if msg is None:
        if os.path.exists(spec["stop_file"]) and time.time() - last_record > spec.get("idle_s", 2):
            break
        continue
    if msg.error() is not None:
        errors.append(str(msg.error()))
        continue
    last_record = time.time()
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
os._exit(0)

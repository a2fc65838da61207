"""A librdkafka (confluent-kafka) group consumer in its own process.

Prints one JSON line per event: {"event": "assigned", "partitions": [...]} and
{"event": "revoked", ...} from the rebalance callbacks, {"event": "consumed", ...} per record,
{"event": "committed", ...} after a commit, {"event": "error", ...}. Reads commands from stdin:
"commit" (synchronous commit of consumed positions), "close" (leave and exit; a static member
does not send LeaveGroup). Killing the process leaves no goodbye at all.

argv[1] is a JSON spec: bootstrap, group, topic, client_id, instance_id (optional),
session_timeout_ms, heartbeat_ms, auto_commit (default false), strategy (default "range").
"""
import json
import sys
import threading

from confluent_kafka import Consumer, KafkaException

spec = json.loads(sys.argv[1])
lock = threading.Lock()


def emit(event):
    with lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


config = {
    "bootstrap.servers": spec["bootstrap"],
    "group.id": spec["group"],
    "client.id": spec.get("client_id", "kkg-rdkafka-member"),
    "session.timeout.ms": spec.get("session_timeout_ms", 10000),
    "heartbeat.interval.ms": spec.get("heartbeat_ms", 300),
    "max.poll.interval.ms": max(spec.get("session_timeout_ms", 10000), 10000),
    "enable.auto.commit": spec.get("auto_commit", False),
    "auto.offset.reset": "earliest",
    "partition.assignment.strategy": spec.get("strategy", "range"),
    "fetch.wait.max.ms": 100,
    "topic.metadata.refresh.interval.ms": 1000,
    "error_cb": lambda err: emit({"event": "error", "error": str(err)}),
}
if spec.get("instance_id"):
    config["group.instance.id"] = spec["instance_id"]
consumer = Consumer(config)


def on_assign(c, partitions):
    emit({"event": "assigned", "partitions": sorted(p.partition for p in partitions)})


def on_revoke(c, partitions):
    emit({"event": "revoked", "partitions": sorted(p.partition for p in partitions)})


consumer.subscribe([spec["topic"]], on_assign=on_assign, on_revoke=on_revoke)
commands = []


def read_commands():
    for line in sys.stdin:
        with lock:
            commands.append(line.strip())


threading.Thread(target=read_commands, daemon=True).start()
while True:
    with lock:
        command = commands.pop(0) if commands else None
    if command == "close":
        consumer.close()
        emit({"event": "closed"})
        break
    if command == "commit":
        try:
            done = consumer.commit(asynchronous=False)
            emit({"event": "committed", "offsets": [[p.partition, p.offset] for p in done or []]})
        except KafkaException as e:
            emit({"event": "commit-failed", "error": str(e)})
    msg = consumer.poll(0.05)
    if msg is None:
        continue
    if msg.error() is not None:
        emit({"event": "error", "error": str(msg.error())})
        continue
    emit({
        "event": "consumed",
        "partition": msg.partition(),
        "offset": msg.offset(),
        "value": None if msg.value() is None else msg.value().decode("utf-8", "replace"),
    })

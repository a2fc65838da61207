"""An idempotent librdkafka (confluent-kafka) producer that sends numbered records as fast as
librdkafka takes them, for the idempotence end-to-end tests, and streams what happens as JSON
lines on standard output, so that the test can follow progress while it injects faults.

argv[1] is a JSON spec: bootstrap, topic, name (the producer's name, in every key and value),
count (records to produce), keys (distinct keys, round robin), value_bytes, stop_file (stop
producing once it exists), flush_timeout_s, and config (more librdkafka properties; they win).

Record i has key "<name>-k<i % keys>" and value "<name>|<i>|" padded to value_bytes. Lines out:
  {"ack": i, "p": partition, "o": offset}     delivered
  {"nack": i, "error": "..."}                 failed (message timed out, fatal error, ...)
  {"error": "...", "fatal": bool}             error_cb (connection errors, fatal errors)
  {"done": produced, "unflushed": n, "fatal_error": "..." | null}   last line
"""
import json
import os
import sys
import time

from confluent_kafka import KafkaException, Producer

spec = json.loads(sys.argv[1])
out = sys.stdout
fatal_error = [None]


def emit(obj):
    out.write(json.dumps(obj) + "\n")
    out.flush()


def on_error(err):
    fatal = err.fatal()
    if fatal:
        fatal_error[0] = str(err)
    emit({"error": str(err), "fatal": fatal})


config = {
    "bootstrap.servers": spec["bootstrap"],
    "client.id": spec["name"],
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 5,
    "batch.num.messages": 50,
    "max.in.flight.requests.per.connection": 5,
    "message.timeout.ms": 120000,
    "request.timeout.ms": 5000,
    "retry.backoff.ms": 50,
    "reconnect.backoff.ms": 50,
    "reconnect.backoff.max.ms": 500,
    "queue.buffering.max.messages": 2000,
    "error_cb": on_error,
    **spec.get("config", {}),
}
producer = Producer(config)
name = spec["name"]
keys = spec.get("keys", 20)
value_bytes = spec.get("value_bytes", 64)
stop_file = spec.get("stop_file")


def reporter(index):
    def on_delivery(err, msg):
        if err is None:
            emit({"ack": index, "p": msg.partition(), "o": msg.offset()})
        else:
            emit({"nack": index, "error": str(err)})
    return on_delivery


produced = 0
last_stop_check = 0.0
for index in range(spec["count"]):
    now = time.time()
    if stop_file is not None and now - last_stop_check > 0.05:
        last_stop_check = now
        if os.path.exists(stop_file):
            break
    if fatal_error[0] is not None:
        break
    value = f"{name}|{index}|".encode()
    value += b"v" * max(0, value_bytes - len(value))
    while True:
        try:
            producer.produce(spec["topic"], value=value, key=f"{name}-k{index % keys}".encode(), on_delivery=reporter(index))
            break
        except BufferError:
            producer.poll(0.01)
        except KafkaException as e:
            # A fatal error: nothing more can be produced.
            fatal_error[0] = fatal_error[0] or str(e)
            break
    if fatal_error[0] is not None:
        break
    produced += 1
    producer.poll(0)
left = producer.flush(spec.get("flush_timeout_s", 120))
emit({"done": produced, "unflushed": left, "fatal_error": fatal_error[0]})
os._exit(0)

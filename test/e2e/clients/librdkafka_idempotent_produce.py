"""An idempotent librdkafka (confluent-kafka) producer that sends numbered records as fast as
librdkafka takes them, for the idempotence end-to-end tests, and streams what happens as JSON
lines on standard output, so that the test can follow progress while it injects faults.

argv[1] is a JSON spec: bootstrap, topic, name (the producer's name, in every key and value),
count (records to produce), keys (distinct keys, round robin), value_bytes, rate (records per
second at most; absent: as fast as librdkafka takes them), stop_file (stop producing once it exists), flush_timeout_s, config (more librdkafka properties; they win), and
new_producer_on_fatal: after a fatal error (librdkafka's idempotent producer cannot go on by
its own rules), do what librdkafka asks of the application: let the producer fail what it
holds, create a new producer (a new producer id), send the failed records again in their
order, and carry on. Without it, a fatal error ends producing.

Record i has key "<name>-k<i % keys>" and value "<name>|<i>|" padded to value_bytes. Lines out:
  {"ack": i, "p": partition, "o": offset}     delivered
  {"nack": i, "p": partition, "error": "..."}  failed (message timed out, fatal error, ...)
  {"error": "...", "fatal": bool}             error_cb (connection errors, fatal errors)
  {"new_producer": n, "resend": count}        a new producer after a fatal error
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
failed = set()


def emit(obj):
    out.write(json.dumps(obj) + "\n")
    out.flush()


def set_fatal(message):
    if fatal_error[0] is None:
        fatal_error[0] = message
        emit({"error": message, "fatal": True})


def on_error(err):
    if err.fatal():
        set_fatal(str(err))
    else:
        emit({"error": str(err), "fatal": False})


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
name = spec["name"]
keys = spec.get("keys", 20)
value_bytes = spec.get("value_bytes", 64)
stop_file = spec.get("stop_file")
rate = spec.get("rate")
new_producer_on_fatal = spec.get("new_producer_on_fatal", False)
producer = Producer(config)
producers = 1


def reporter(index):
    def on_delivery(err, msg):
        if err is None:
            # offset None: librdkafka knows the record is written but not where (a later batch
            # of the partition succeeded while this one's request had timed out).
            emit({"ack": index, "p": msg.partition(), "o": msg.offset()})
        else:
            failed.add(index)
            emit({"nack": index, "p": msg.partition(), "error": str(err)})
    return on_delivery


def poll(timeout):
    """producer.poll; confluent-kafka raises a fatal error from it as a KafkaException."""
    try:
        producer.poll(timeout)
    except KafkaException as e:
        set_fatal(str(e))


def flush(timeout):
    """producer.flush, polling through fatal errors; returns the messages left."""
    deadline = time.time() + timeout
    while True:
        try:
            return producer.flush(max(0, deadline - time.time()))
        except KafkaException as e:
            set_fatal(str(e))
            if time.time() >= deadline:
                return len(producer)


def produce(index):
    """Hands record `index` to the producer; False once the producer has a fatal error."""
    value = f"{name}|{index}|".encode()
    value += b"v" * max(0, value_bytes - len(value))
    while fatal_error[0] is None:
        try:
            producer.produce(spec["topic"], value=value, key=f"{name}-k{index % keys}".encode(), on_delivery=reporter(index))
            poll(0)
            return True
        except BufferError:
            poll(0.01)
        except KafkaException as e:
            set_fatal(str(e))
    return False


def recover():
    """After a fatal error: a new producer sends what the old one failed, in order."""
    global producer, producers
    # The fatal producer fails everything it holds (delivery reports with errors).
    flush(30)
    resend = sorted(failed)
    failed.clear()
    fatal_error[0] = None
    producer = Producer(config)
    producers += 1
    emit({"new_producer": producers, "resend": len(resend)})
    for index in resend:
        if not produce(index):
            return False
    return True


produced = 0
last_stop_check = 0.0
index = 0
started = time.time()
while index < spec["count"]:
    now = time.time()
    if rate is not None and now < started + index / rate:
        poll(min(0.05, started + index / rate - now))
        continue
    if stop_file is not None and now - last_stop_check > 0.05:
        last_stop_check = now
        if os.path.exists(stop_file):
            break
    if fatal_error[0] is not None:
        if not new_producer_on_fatal or not recover():
            break
        continue
    if produce(index):
        index += 1
        produced = index
while True:
    left = flush(spec.get("flush_timeout_s", 120))
    if fatal_error[0] is not None and new_producer_on_fatal and recover():
        continue
    break
emit({"done": produced, "unflushed": left, "fatal_error": fatal_error[0]})
os._exit(0)

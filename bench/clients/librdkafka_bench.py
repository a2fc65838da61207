"""Throughput of librdkafka (Debian's python confluent-kafka) against a Kafka endpoint.

argv[1] is a JSON spec: mode ("produce" or "consume"), bootstrap, topic, partitions, records,
record_bytes. Prints {"records": n, "bytes": value bytes, "seconds": elapsed}, timed from the
first produce() (or assign()) to the last delivery report (or record): process start-up and
the module import are not counted.
"""
import json
import os
import sys
import time

from confluent_kafka import Consumer, Producer, TopicPartition

spec = json.loads(sys.argv[1])
count = spec["records"]
size = spec["record_bytes"]

if spec["mode"] == "produce":
    producer = Producer({
        "bootstrap.servers": spec["bootstrap"],
        "client.id": "kkg-bench-librdkafka",
        "linger.ms": 5,
        "acks": -1,
        "compression.type": "none",
        "queue.buffering.max.kbytes": 1048576,
        "message.timeout.ms": 120000,
    })
    producer.list_topics(spec["topic"], timeout=10)
    value = (os.urandom(size // 2).hex()[: size // 2] + "a" * (size - size // 2)).encode()
    acked = [0]
    failed = []

    def on_delivery(err, _msg):
        if err is None:
            acked[0] += 1
        else:
            failed.append(str(err))

    started = time.perf_counter()
    for i in range(count):
        while True:
            try:
                producer.produce(spec["topic"], key=b"key-%d" % i, value=value, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.01)
        if i % 1000 == 0:
            producer.poll(0)
    producer.flush(120)
    elapsed = time.perf_counter() - started
    result = {"records": acked[0], "bytes": acked[0] * size, "seconds": elapsed, "errors": failed[:5]}
else:
    consumer = Consumer({
        "bootstrap.servers": spec["bootstrap"],
        "client.id": "kkg-bench-librdkafka",
        "group.id": "kkg-bench-unused",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "fetch.wait.max.ms": 100,
        "fetch.max.bytes": 52428800,
        "max.partition.fetch.bytes": 10485760,
    })
    started = time.perf_counter()
    consumer.assign([TopicPartition(spec["topic"], p, 0) for p in range(spec["partitions"])])
    got = 0
    nbytes = 0
    errors = []
    deadline = started + spec.get("timeout_s", 120)
    while got < count and time.perf_counter() < deadline:
        # Ask for no more than is left: consume() waits out its timeout while fewer than asked
        # for are there, which would add up to 0.2 s to the last call.
        for msg in consumer.consume(min(10000, count - got), 0.2):
            if msg.error() is not None:
                errors.append(str(msg.error()))
                continue
            got += 1
            nbytes += len(msg.value())
    elapsed = time.perf_counter() - started
    consumer.close()
    result = {"records": got, "bytes": nbytes, "seconds": elapsed, "errors": errors[:5]}
print(json.dumps(result))
sys.stdout.flush()
os._exit(0)

"""What librdkafka (confluent-kafka) tools see of a consumer group, printed as JSON.

argv[1] is a JSON spec: bootstrap, group, topic, partitions (count).
- "groups": AdminClient.list_groups() (ListGroups + DescribeGroups): every group with its state,
  protocol type and protocol, and members with client id, host, metadata and assignment (hex);
- "offsets": per partition the committed offset (Consumer.committed, OffsetFetch) and the low
  and high watermarks (ListOffsets), and lag = high - committed.
"""
import json
import sys

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

spec = json.loads(sys.argv[1])
admin = AdminClient({"bootstrap.servers": spec["bootstrap"], "socket.timeout.ms": 10000})
groups = []
for g in admin.list_groups(timeout=20):
    groups.append({
        "id": g.id,
        "state": g.state,
        "protocol_type": g.protocol_type,
        "protocol": g.protocol,
        "error": None if g.error is None else str(g.error),
        "members": [
            {
                "id": m.id,
                "client_id": m.client_id,
                "client_host": m.client_host,
                "metadata": (m.metadata or b"").hex(),
                "assignment": (m.assignment or b"").hex(),
            }
            for m in g.members
        ],
    })

consumer = Consumer({"bootstrap.servers": spec["bootstrap"], "group.id": spec["group"], "enable.auto.commit": False})
offsets = []
wanted = [TopicPartition(spec["topic"], p) for p in range(spec["partitions"])]
for tp in consumer.committed(wanted, timeout=20):
    low, high = consumer.get_watermark_offsets(TopicPartition(spec["topic"], tp.partition), timeout=20)
    committed = tp.offset
    offsets.append({
        "partition": tp.partition,
        "committed": committed,
        "low": low,
        "high": high,
        "lag": high - committed if committed >= 0 else None,
    })
consumer.close()
print(json.dumps({"groups": groups, "offsets": offsets}))

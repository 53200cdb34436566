"""The stream workers' consumer group as the broker sees it, printed as JSON; scripts/deploy-smoke
pipes this file to ``python -`` inside a careline container (kafka-python is installed there).

Output: ``{"state": ..., "members": [{"host": "10.89.0.9", "assigned": {topic: [partitions]}}],
"ends": {topic: {partition: end offset}}}`` for the group ``careline`` and its inbound topics.
"""

import json
import logging
import os
import sys

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

TOPICS = ("care.intake.v1", "care.requests.v1", "caregiver.events.v1", "care.timers.v1")

logging.disable(logging.CRITICAL)
broker = os.environ.get("CARELINE_BROKER", "kafka:9092")
quick = {"request_timeout_ms": 5000, "bootstrap_timeout_ms": 5000}
admin = KafkaAdminClient(bootstrap_servers=broker, client_id="deploy-smoke-probe", **quick)
consumer = KafkaConsumer(bootstrap_servers=broker, client_id="deploy-smoke-probe", enable_auto_commit=False, **quick)
try:
    group = admin.describe_groups(["careline"])["careline"]
    members = [
        {
            "host": m["client_host"].lstrip("/"),
            "assigned": {
                a["topic"]: sorted(a["partitions"])
                for a in (m.get("member_assignment") or {}).get("assigned_partitions", [])
                if a["topic"] in TOPICS
            },
        }
        for m in group.get("members", [])
    ]
    parts = [TopicPartition(t, p) for t in TOPICS for p in sorted(consumer.partitions_for_topic(t) or [])]
    ends: dict = {}
    for tp, end in consumer.end_offsets(parts).items():
        ends.setdefault(tp.topic, {})[str(tp.partition)] = end
finally:
    admin.close()
    consumer.close()
json.dump({"state": group.get("group_state"), "members": members, "ends": ends}, sys.stdout)

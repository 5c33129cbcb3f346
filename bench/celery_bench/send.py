"""Publishes matches with Celery's own producer, as a Celery user's scraper does:
app.send_task(name, args=[match]) per match, Celery's defaults (protocol 2, no publisher
confirms). Prints the wall-clock time (epoch seconds) of the first and last publish as JSON.

    /usr/bin/python3 send.py <broker-url> <matches.ndjson>
"""
import json
import sys
import time

from celery import Celery
from kombu import Exchange, Queue

TASK = "celery_tasks.match_tasks.process_match_data"
url, path = sys.argv[1], sys.argv[2]
queue = Queue("matches", Exchange("matches", type="direct", durable=True), routing_key="matches.process")
with open(path, encoding="utf-8") as f:
    matches = [json.loads(line) for line in f if line.strip()]

app = Celery("bench-producer", broker=url)
app.conf.update(task_serializer="json", accept_content=["json"], task_ignore_result=True)
with app.producer_or_acquire() as producer:
    first = time.time()
    for match in matches:
        app.send_task(TASK, args=[match], queue=queue, routing_key="matches.process", producer=producer)
    last = time.time()
print(json.dumps({"first": first, "last": last, "count": len(matches)}))

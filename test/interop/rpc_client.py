"""Sends one task with the rpc:// result backend and waits for its result, for interop tests.

    /usr/bin/python3 rpc_client.py <broker-url> <match.json>

Prints the task id on the first line (flushed, so the test can answer it), then one JSON line:
{"ok": true, "result": ...} or {"ok": false, "exc_type": ..., "exc_message": ...}.
"""
import json
import sys

from celery import Celery
from kombu import Exchange, Queue

url, match_file = sys.argv[1], sys.argv[2]
app = Celery("rpc-client", broker=url, backend="rpc://")
app.conf.update(task_serializer="json", accept_content=["json"], result_serializer="json")
queue = Queue("matches", Exchange("matches", type="direct", durable=True), routing_key="matches.process")
match = json.load(open(match_file, encoding="utf-8"))
result = app.send_task("celery_tasks.match_tasks.process_match_data", args=[match], queue=queue, routing_key="matches.process")
print(result.id, flush=True)
try:
    value = result.get(timeout=90)
    print(json.dumps({"ok": True, "result": value, "state": result.state}), flush=True)
except Exception as exc:  # the reconstructed remote exception
    print(json.dumps({"ok": False, "exc_type": type(exc).__name__, "exc_message": str(exc), "state": result.state}), flush=True)

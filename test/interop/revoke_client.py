"""Revokes a task as `celery control revoke` does, then sends it, for interop tests.

    /usr/bin/python3 revoke_client.py <broker-url> <node> <call|cast> <revoked.json> <kept.json>

`call` asks the node for a reply (app.control.revoke(..., reply=True, destination=[node])); `cast`
broadcasts without one (Celery's default) and then waits until `inspect revoked` lists the id.
Then sends the revoked task and another one with the rpc:// backend and waits for both results.
Prints one JSON line: {"reply", "revoked_id", "listed", "revoked_result", "kept_result"}.
"""
import json
import sys
import time
import uuid

from celery import Celery
from kombu import Exchange, Queue

url, node, mode, revoked_file, kept_file = sys.argv[1:]
app = Celery("revoke-client", broker=url, backend="rpc://")
app.conf.update(task_serializer="json", accept_content=["json"], result_serializer="json")
queue = Queue("matches", Exchange("matches", type="direct", durable=True), routing_key="matches.process")
task_id = str(uuid.uuid4())
inspect = app.control.inspect(timeout=5, destination=[node])

reply = None
if mode == "call":
    reply = app.control.revoke(task_id, reply=True, destination=[node], timeout=5)
else:
    app.control.revoke(task_id)
deadline = time.monotonic() + 20
listed = None
while time.monotonic() < deadline:
    listed = (inspect.revoked() or {}).get(node)
    if listed and task_id in listed:
        break
    time.sleep(0.2)


def outcome(match_file, tid=None):
    match = json.load(open(match_file, encoding="utf-8"))
    result = app.send_task("celery_tasks.match_tasks.process_match_data", args=[match], queue=queue, routing_key="matches.process", task_id=tid)
    try:
        return {"ok": True, "value": result.get(timeout=60), "state": result.state}
    except Exception as exc:  # the reconstructed remote exception
        return {"ok": False, "exc_type": type(exc).__name__, "exc_module": type(exc).__module__, "exc_message": str(exc), "state": result.state}


print(json.dumps({
    "reply": reply,
    "revoked_id": task_id,
    "listed": listed,
    "revoked_result": outcome(revoked_file, task_id),
    "kept_result": outcome(kept_file),
}), flush=True)

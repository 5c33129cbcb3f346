"""A stand-in for the original system's Celery worker, for interop tests only.

The task has the production name; it appends what it received (args, kwargs, task id, retries)
as one JSON line to the file named by MATCHFLOW_INTEROP_OUT, which the TypeScript test reads.
Broker and queue come from the environment so each test file uses its own vhost.
"""
import json
import os

from celery import Celery
from kombu import Exchange, Queue

app = Celery("interop", broker=os.environ["MATCHFLOW_INTEROP_BROKER"])
exchange = Exchange("matches", type="direct", durable=True)
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    task_queues=[Queue("matches", exchange, routing_key="matches.process")],
    task_routes={"celery_tasks.match_tasks.process_match_data": {"queue": "matches", "routing_key": "matches.process"}},
)


@app.task(name="celery_tasks.match_tasks.process_match_data", bind=True)
def process_match_data(self, *args, **kwargs):
    r = self.request
    line = json.dumps({
        "args": list(args), "kwargs": kwargs, "id": r.id, "retries": r.retries,
        # The request context Celery built from the message headers (absent headers read as None).
        "root_id": r.root_id, "parent_id": r.parent_id, "group": r.group,
        "eta": r.eta, "expires": r.expires, "timelimit": list(r.timelimit) if r.timelimit else None,
    }, default=str)
    with open(os.environ["MATCHFLOW_INTEROP_OUT"], "a", encoding="utf-8") as out:
        out.write(line + "\n")
        out.flush()
    return None

"""Celery tasks that matchflow's worker sends on a finished task's behalf, for interop tests.

A link callback, a chain's next step or a link_error errback of a `process_match_data` task is a
task of another Celery app: these record what they received (args, kwargs and the request
context) as one JSON line in MATCHFLOW_INTEROP_OUT and return it, so a chain's
`AsyncResult.get()` (rpc:// backend) sees the value that went through matchflow.
"""
import json
import os

from celery import Celery

app = Celery("follow", broker=os.environ["MATCHFLOW_INTEROP_BROKER"], backend="rpc://")
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    result_serializer="json",
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)


def _record(name, request, args, kwargs):
    seen = {
        "task": name, "args": list(args), "args_json": json.dumps(list(args)), "kwargs": kwargs, "id": request.id,
        "root_id": request.root_id, "parent_id": request.parent_id,
        "group": request.group, "group_index": getattr(request, "group_index", None),
        "timelimit": list(request.timelimit) if request.timelimit else None,
        "exchange": (request.delivery_info or {}).get("exchange"),
        "routing_key": (request.delivery_info or {}).get("routing_key"),
    }
    with open(os.environ["MATCHFLOW_INTEROP_OUT"], "a", encoding="utf-8") as out:
        out.write(json.dumps(seen) + "\n")
        out.flush()
    return seen


@app.task(name="notify.record", bind=True)
def record(self, *args, **kwargs):
    return _record("notify.record", self.request, args, kwargs)


@app.task(name="notify.failed", bind=True)
def failed(self, *args, **kwargs):
    return _record("notify.failed", self.request, args, kwargs)

"""Sends a task with apply_async options a Celery user sets, for interop tests of the real worker.

    /usr/bin/python3 send_options.py <broker-url> expires-naive <match.json> <seconds>
        expires=datetime.utcnow() + seconds: a naive datetime, which Celery's worker reads as UTC
    /usr/bin/python3 send_options.py <broker-url> rpc-ignore-result <match.json>
        rpc:// backend: the match with ignore_result=True, then again (another external id)
        without; waits for the second's result, noting every result the client receives meanwhile
    /usr/bin/python3 send_options.py <broker-url> rpc-expired <match.json>
        rpc:// backend: expires a minute ago; waits for the outcome

Prints one JSON line.
"""
import datetime
import json
import sys

from celery import Celery
from kombu import Exchange, Queue

TASK = "celery_tasks.match_tasks.process_match_data"
url, mode, match_file = sys.argv[1], sys.argv[2], sys.argv[3]
match = json.load(open(match_file, encoding="utf-8"))
queue = Queue("matches", Exchange("matches", type="direct", durable=True), routing_key="matches.process")
app = Celery("options", broker=url, backend="rpc://" if mode.startswith("rpc-") else None)
app.conf.update(task_serializer="json", accept_content=["json"], result_serializer="json",
                broker_transport_options={"confirm_publish": True})


def send(m, **options):
    return app.send_task(TASK, args=[m], queue=queue, routing_key="matches.process", **options)


if mode == "expires-naive":
    expires = datetime.datetime.utcnow() + datetime.timedelta(seconds=float(sys.argv[4]))
    result = send(match, expires=expires)
    print(json.dumps({"id": result.id, "expires": expires.isoformat()}))
elif mode == "rpc-ignore-result":
    ignored = send(match, ignore_result=True)
    second = send({**match, "external_match_id": match["external_match_id"] + "-b"})
    seen = []
    value = second.get(timeout=60, on_message=lambda meta: seen.append(meta["task_id"]))
    print(json.dumps({"ignored": ignored.id, "second": second.id, "seen": seen, "result": value}))
elif mode == "rpc-expired":
    result = send(match, expires=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1))
    try:
        print(json.dumps({"ok": True, "result": result.get(timeout=60), "state": result.state}))
    except Exception as exc:  # the reconstructed remote exception
        print(json.dumps({"ok": False, "exc_type": type(exc).__name__, "exc_module": type(exc).__module__,
                          "exc_message": str(exc), "state": result.state}))
else:
    sys.exit("mode must be expires-naive, rpc-ignore-result or rpc-expired")

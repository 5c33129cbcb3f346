"""Sends a match task with Celery canvas parts, as a Python producer would, for interop tests.

    /usr/bin/python3 canvas_client.py <broker-url> chain <match.json>      # chain(process, record.s("chained")), then get()
    /usr/bin/python3 canvas_client.py <broker-url> link <match.json>       # link=record.s("linked") with time limits 300/200, link_error=failed.s()
    /usr/bin/python3 canvas_client.py <broker-url> link-group <match.json> # link=group(record.s("a"), record.s("b"))
    /usr/bin/python3 canvas_client.py <broker-url> link-exchange <match.json> # link=record.s("routed") through the topic exchange notify.topic
    /usr/bin/python3 canvas_client.py <broker-url> link-numbers <match.json> # link=record.s(1.0, 2**64 + 1, -0.0, 2.5) with time_limit=300.0
    /usr/bin/python3 canvas_client.py <broker-url> chain-matches <matches.json> # chain(process(m1), process.si(m2)), then get()

Prints the match task's id on the first line; `chain` then prints one JSON line with what the
chain's last task returned ({"ok": true, "result": ...}) or why get() failed.
"""
import json
import sys

from celery import Celery, chain, group
from kombu import Exchange, Queue

url, mode, match_file = sys.argv[1], sys.argv[2], sys.argv[3]
app = Celery("canvas-client", broker=url, backend="rpc://")
app.conf.update(task_serializer="json", accept_content=["json"], result_serializer="json",
                broker_transport_options={"confirm_publish": True})
queue = Queue("matches", Exchange("matches", type="direct", durable=True), routing_key="matches.process")
match = json.load(open(match_file, encoding="utf-8"))
if mode == "chain-matches":
    match, second = match
process = app.signature("celery_tasks.match_tasks.process_match_data", args=[match],
                        options={"queue": queue, "routing_key": "matches.process"})
record = lambda *args: app.signature("notify.record", args=list(args))

if mode in ("chain", "chain-matches"):
    # The second match task names no queue: matchflow's worker routes its own task itself.
    after = record("chained") if mode == "chain" else app.signature("celery_tasks.match_tasks.process_match_data", args=[second], immutable=True)
    result = chain(process, after).apply_async()
    print(result.parent.id, flush=True)
    try:
        print(json.dumps({"ok": True, "result": result.get(timeout=90)}), flush=True)
    except Exception as exc:
        print(json.dumps({"ok": False, "exc_type": type(exc).__name__, "exc_message": str(exc)}), flush=True)
elif mode == "link":
    # Time limits above 127: amqplib's untyped guess for them is a short string to py-amqp.
    result = process.apply_async(link=record("linked").set(time_limit=300, soft_time_limit=200), link_error=app.signature("notify.failed"))
    print(result.id, flush=True)
elif mode == "link-numbers":
    # Numbers JSON.parse would change: floats with an integral value, an int past 2^53.
    result = process.apply_async(link=record(1.0, 2**64 + 1, -0.0, 2.5).set(time_limit=300.0))
    print(result.id, flush=True)
elif mode == "link-group":
    result = process.apply_async(link=group(record("a"), record("b")))
    print(result.id, flush=True)
elif mode == "link-exchange":
    routed = record("routed").set(exchange="notify.topic", routing_key="notify.record.routed")
    result = process.apply_async(link=routed)
    print(result.id, flush=True)
else:
    sys.exit(f"unknown mode {mode}")

"""Asks workers over Celery's remote control, as `celery inspect` and Flower do, for interop tests.

    /usr/bin/python3 control_client.py <broker-url> <destination node, or * for all> <command>...

Prints one JSON line: each command's replies ({node: reply}, or null when none came). Inspect
commands go through app.control.inspect; `shutdown`, `enable_events`, `disable_events` and
`heartbeat` are broadcast asking for replies; `revoke=<id>` is app.control.revoke asking for replies;
`query_task=<id>` is inspect.query_task; `clock=<n>` moves the requester's Lamport clock to n.
"""
import json
import sys

from celery import Celery

url, target, *commands = sys.argv[1:]
destination = None if target == "*" else [target]
app = Celery("control-client", broker=url)
# Addressed to one node, a call returns as soon as it answers; a broadcast waits the whole timeout.
inspect = app.control.inspect(timeout=1.5 if destination is None else 5, destination=destination)
out = {}
for name in commands:
    if name.startswith("clock="):
        # The requester's Lamport clock: the worker's moves past it, and so its replies' clock header.
        app.control.mailbox.clock.adjust(int(name[len("clock="):]))
        continue
    if name.startswith("query_task="):
        out[name] = inspect.query_task(name[len("query_task="):])
    elif name.startswith("revoke="):
        replies = app.control.revoke(name[len("revoke="):], reply=True, timeout=5, destination=destination)
        out[name] = {node: reply for entry in replies for node, reply in entry.items()} or None
    elif name in ("shutdown", "enable_events", "disable_events", "heartbeat"):
        replies = app.control.broadcast(name, reply=True, timeout=5, destination=destination)
        out[name] = {node: reply for entry in replies for node, reply in entry.items()} or None
    else:
        out[name] = getattr(inspect, name)()
print(json.dumps(out), flush=True)

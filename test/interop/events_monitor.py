"""Watches Celery events as Flower does (app.events.Receiver feeding app.events.State), for interop tests.

    /usr/bin/python3 events_monitor.py <broker-url> tasks <seconds> <task-id>...  # until every task is final and a worker sent a heartbeat
    /usr/bin/python3 events_monitor.py <broker-url> offline <seconds>             # until a worker seen alive says it is offline

Prints "ready" once its queue is bound to the event exchange ("alive" too in offline mode, once a
worker is seen alive), then one JSON line with what the
State holds: {"workers": {hostname: {...}}, "tasks": {uuid: {...}}, "done": bool}.
"""
import json
import sys
import threading

from celery import Celery

url, mode, seconds, *task_ids = sys.argv[1:]
app = Celery("monitor", broker=url)
state = app.events.State()
seen_alive = set()


def done():
    for name, worker in state.workers.items():
        if worker.alive and name not in seen_alive:
            seen_alive.add(name)
            if mode == "offline":
                print("alive", flush=True)
    if mode == "offline":
        # worker-offline empties the heartbeats (a worker that merely went silent keeps them and expires).
        return any(not state.workers[name].heartbeats for name in seen_alive)
    tasks_final = all(t in state.tasks and state.tasks[t].ready for t in task_ids)
    # A worker event (not only task events, which count as heartbeats too) carries the software fields.
    return tasks_final and any(w.sw_ident and len(w.heartbeats) >= 2 for w in state.workers.values())


class Monitor(app.events.Receiver):
    def on_consume_ready(self, *args, **kwargs):
        super().on_consume_ready(*args, **kwargs)
        print("ready", flush=True)


def on_event(event):
    state.event(event)
    if done():
        receiver.should_stop = True


with app.connection_for_read() as conn:
    receiver = Monitor(conn, handlers={"*": on_event})
    timer = threading.Timer(float(seconds), lambda: setattr(receiver, "should_stop", True))
    timer.start()
    try:
        receiver.capture(limit=None, timeout=None, wakeup=False)
    finally:
        timer.cancel()

print(json.dumps({
    "done": done(),
    "workers": {
        name: {"alive": w.alive, "sw_ident": w.sw_ident, "sw_ver": w.sw_ver, "sw_sys": w.sw_sys, "freq": w.freq,
               "processed": w.processed, "active": w.active, "pid": w.pid, "heartbeats": len(w.heartbeats)}
        for name, w in state.workers.items()
    },
    "tasks": {
        uuid: {"name": t.name, "state": t.state, "result": t.result, "args": t.args, "kwargs": t.kwargs,
               "exception": t.exception, "runtime": t.runtime, "retries": t.retries,
               "worker": t.worker.hostname if t.worker else None, "received": t.received, "started": t.started}
        for uuid, t in state.tasks.items()
    },
}), flush=True)

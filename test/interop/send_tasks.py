"""Publishes matches the two ways the original system's producers did, for interop tests.

    /usr/bin/python3 send_tasks.py <broker-url> v2 <matches.json>   # app.send_task (protocol 2)
    /usr/bin/python3 send_tasks.py <broker-url> v2-countdown <matches.json> <seconds>   # the same with countdown=
    /usr/bin/python3 send_tasks.py <broker-url> v2-workflow <matches.json>   # first match with link=, second in a chain
    /usr/bin/python3 send_tasks.py <broker-url> v2-compressed <matches.json> <method>   # send_task(compression=method)
    /usr/bin/python3 send_tasks.py <broker-url> v2-headers <matches.json>   # send_task(headers=) with integers of every size
    /usr/bin/python3 send_tasks.py <broker-url> v1 <matches.json>   # raw protocol-1 JSON body
    /usr/bin/python3 send_tasks.py <broker-url> v1-bytes <matches.json>   # the same as bytes (kombu: content_encoding "binary"), with a NaN field
    /usr/bin/python3 send_tasks.py <broker-url> declare              # what a Celery producer declares

Prints one task id per line. The v1 path is the seed's production scraper: a JSON body
{"id", "task", "args", "kwargs", "retries", "eta", "expires"} with delivery_mode=2, published
through kombu to the work exchange.
"""
import json
import sys
import uuid

from celery import Celery
from kombu import Connection, Exchange, Producer, Queue

TASK = "celery_tasks.match_tasks.process_match_data"
url, mode = sys.argv[1], sys.argv[2]
exchange = Exchange("matches", type="direct", durable=True)
queue = Queue("matches", exchange, routing_key="matches.process")

if mode == "declare":
    with Connection(url) as conn:
        queue(conn.default_channel).declare()
    sys.exit(0)

matches = json.load(open(sys.argv[3], encoding="utf-8"))

if mode in ("v2", "v2-countdown", "v2-compressed", "v2-headers"):
    countdown = float(sys.argv[4]) if mode == "v2-countdown" else None
    compression = sys.argv[4] if mode == "v2-compressed" else None
    # py-amqp writes an integer beyond 32 bits as the field type 'L' (signed 64-bit).
    headers = {"sent_at_ms": 1764680000123, "below": -(2 ** 40), "small": 200, "negative": -5} if mode == "v2-headers" else None
    app = Celery("producer", broker=url)
    app.conf.update(task_serializer="json", accept_content=["json"], task_ignore_result=True,
                    broker_transport_options={"confirm_publish": True})
    for match in matches:
        result = app.send_task(TASK, args=[match], queue=queue, routing_key="matches.process", countdown=countdown,
                               compression=compression, headers=headers)
        print(result.id)
elif mode == "v2-workflow":
    # Canvas a Celery user might hang on the task: a link callback, and the task as a chain's
    # first step (matchflow runs neither, and says so).
    from celery import chain
    app = Celery("producer", broker=url)
    app.conf.update(task_serializer="json", accept_content=["json"], task_ignore_result=True,
                    broker_transport_options={"confirm_publish": True})
    notify = app.signature("producer.notify", queue="celery")
    first = app.signature(TASK, args=[matches[0]], queue=queue, routing_key="matches.process")
    print(first.apply_async(link=notify).id)
    second = app.signature(TASK, args=[matches[1]], queue=queue, routing_key="matches.process")
    print(chain(second, notify).apply_async().parent.id)
elif mode == "v1":
    with Connection(url, transport_options={"confirm_publish": True}) as conn:
        producer = Producer(conn.default_channel, exchange=exchange, routing_key="matches.process")
        for match in matches:
            task_id = str(uuid.uuid4())
            body = json.dumps({"id": task_id, "task": TASK, "args": [match], "kwargs": {},
                               "retries": 0, "eta": None, "expires": None})
            producer.publish(body, content_type="application/json", content_encoding="utf-8",
                             delivery_mode=2, declare=[queue])
            print(task_id)
elif mode == "v1-bytes":
    # A hand-rolled producer publishing ready-made bytes: kombu marks them content_encoding
    # "binary". json.dumps writes a float NaN (a pandas column) as the bare token NaN.
    with Connection(url, transport_options={"confirm_publish": True}) as conn:
        producer = Producer(conn.default_channel, exchange=exchange, routing_key="matches.process")
        for match in matches:
            task_id = str(uuid.uuid4())
            body = json.dumps({"id": task_id, "task": TASK, "args": [dict(match, attendance=float("nan"))], "kwargs": {},
                               "retries": 0, "eta": None, "expires": None}).encode("utf-8")
            producer.publish(body, content_type="application/json", delivery_mode=2, declare=[queue])
            print(task_id)
else:
    sys.exit("mode must be v1, v1-bytes, v2, v2-countdown, v2-compressed, v2-headers, v2-workflow or declare")

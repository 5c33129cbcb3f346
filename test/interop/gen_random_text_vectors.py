"""Regenerates test/fixtures/celery-wire/python-text-random-vectors.json: seeded random JSON values
with what the real Celery/kombu make of them (saferepr(value, 1024), saferepr(value, 160): the
publisher's default PUBLISH_ARGSREPR_MAX, and json.dumps), so that the
TypeScript renderings are checked on far more shapes than the hand-picked vectors.

Run with Debian's interpreter (it has python3-celery):
    /usr/bin/python3 test/interop/gen_random_text_vectors.py > test/fixtures/celery-wire/python-text-random-vectors.json
Only values that survive a JSON round trip through JavaScript unchanged: no integer-valued floats
(JavaScript reads 2.0 as 2), integers within 2**53, no keys that read as array indexes ("7":
JavaScript objects list those first, whatever the order of the text).
"""
import json
import random
import sys

from celery.utils.saferepr import saferepr

rng = random.Random(20261129)
ALPHABET = (
    list("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789 _-.:/")
    + ["'", '"', "\\", "\n", "\t", "\r", "\b", "\f", "\x00", "\x1f", "\x7f", "\x80", "\u00e9", "\u2028", "\u20ac", "\U0001F600"]
)


def text():
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 24)))


def key():
    while True:
        k = text()
        if not (k.isascii() and k.isdigit() and (k == "0" or not k.startswith("0"))):
            return k


def number():
    kind = rng.randint(0, 4)
    if kind == 0:
        return rng.randint(-10**6, 10**6)
    if kind == 1:
        return rng.randint(-2**53, 2**53)
    while True:
        x = rng.uniform(-1, 1) * 10 ** rng.randint(-12, 20)
        if x != int(x):
            return x


def value(depth):
    kind = rng.randint(0, 9 if depth < 5 else 5)
    if kind <= 1:
        return text()
    if kind == 2:
        return number()
    if kind == 3:
        return rng.choice([None, True, False])
    if kind <= 5:
        return text() if depth >= 5 else number()
    if kind <= 7:
        return [value(depth + 1) for _ in range(rng.randint(0, 6))]
    return {key(): value(depth + 1) for _ in range(rng.randint(0, 6))}


cases = []
for i in range(150):
    v = [value(1) for _ in range(rng.randint(1, 3))] if i % 3 else {key(): value(1) for _ in range(rng.randint(0, 4))}
    cases.append({"name": "random %d" % i, "value": v, "repr": saferepr(v, 1024), "repr160": saferepr(v, 160), "json": json.dumps(v)})
# Long ones, so that the truncating path meets every kind of token too.
for i in range(10):
    v = [{key(): value(4) for _ in range(30)} for _ in range(rng.randint(2, 4))]
    cases.append({"name": "random long %d" % i, "value": v, "repr": saferepr(v, 1024), "repr160": saferepr(v, 160), "json": json.dumps(v)})
json.dump(cases, sys.stdout, separators=(",", ":"))
sys.stdout.write("\n")

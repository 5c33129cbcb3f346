"""Regenerates test/fixtures/celery-wire/python-text-vectors.json from the real Celery/kombu.

Run with Debian's interpreter (it has python3-celery):
    /usr/bin/python3 test/interop/gen_saferepr_vectors.py > test/fixtures/celery-wire/python-text-vectors.json
Each vector: a JSON value, Celery's saferepr(value, 1024) and json.dumps(value) (kombu's defaults).
Only values that survive a JSON round trip through JavaScript unchanged (no int/float ambiguity).
"""
import json
import sys

from celery.utils.saferepr import saferepr

CASES = {
    "captured match": [{"external_match_id": "dump-1", "home_team": "Arsenal", "away_team": "Chelsea",
                        "match_date": "2024-05-01", "home_score": 2, "away_score": 1, "match_status": "finished"}],
    "empty kwargs": {},
    "quotes, escapes, non-ASCII": [{"s": "it's \"q\"\n\ttab \u00e9 \U0001F600 \\ \u0001 \u007f", "n": None, "t": True,
                                    "f": False, "x": 1.5, "y": 1e-05, "z": 2.5e-16, "w": 123.456, "neg": -0.00012, "big": 2 ** 52}],
    "nesting past three levels": [[[[1, [2]]]], {"a": {"b": {"c": {"d": 1}}}}],
    "one long string with spaces": ["word " * 300],
    "many keys": [{"k%d" % i: "value %d" % i for i in range(120)}],
    "many numbers": [list(range(600))],
    "one long string without spaces": [{"long": "x" * 2000}],
    "budget ends at a key": [{("key%03d" % i): i for i in range(200)}],
    "repr of 1023 chars": ["x" * 1019],
    "repr of exactly 1024 chars": ["x" * 1020],
    "repr of 1025 chars": ["x" * 1021],
    "1024 chars, spaces, two items": ["a b " * 250, 7],
}

json.dump([{"name": name, "value": value, "repr": saferepr(value, 1024), "json": json.dumps(value)}
           for name, value in CASES.items()], sys.stdout, indent=1)
sys.stdout.write("\n")

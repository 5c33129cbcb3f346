"""The Celery 5 baseline worker for the benchmarks: what a Celery user would write.

Same task name and queue as matchflow (so it consumes matchflow's or send_task's messages
alike). The task does a one-row upsert with psycopg2 into bench_flat_matches and commits,
one transaction per task, on one connection per pool process. Celery's default early ack (on
receipt), which is faster here than acks_late; BENCH_CELERY_ACKS_LATE=1 acks after the commit,
the guarantee matchflow gives (docs/performance.md, Method). The task's own run time (upsert + commit)
is appended to BENCH_DURATIONS_DIR/<pid>.txt in chunks, for the processing latency.

    BENCH_BROKER=amqp://... BENCH_DSN=postgresql://... \
      /usr/bin/python3 -m celery -A tasks worker -P prefork -c 2 -Q matches \
      --without-gossip --without-mingle --without-heartbeat -l warning
"""
import json
import os
import time

import psycopg2
from celery import Celery
from celery.signals import worker_process_shutdown
from kombu import Exchange, Queue

TASK = "celery_tasks.match_tasks.process_match_data"
app = Celery("bench", broker=os.environ["BENCH_BROKER"])
exchange = Exchange("matches", type="direct", durable=True)
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_acks_late=os.environ.get("BENCH_CELERY_ACKS_LATE", "0") == "1",
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
    task_queues=[Queue("matches", exchange, routing_key="matches.process")],
    task_routes={TASK: {"queue": "matches", "routing_key": "matches.process"}},
)

UPSERT = """
INSERT INTO bench_flat_matches (external_match_id, home_team, away_team, match_date, season,
  age_group, match_type, league, division, home_score, away_score, home_penalty_score,
  away_penalty_score, match_status, scheduled_kickoff, location, source, scraped_at, raw)
VALUES (%(external_match_id)s, %(home_team)s, %(away_team)s, %(match_date)s, %(season)s,
  %(age_group)s, %(match_type)s, %(league)s, %(division)s, %(home_score)s, %(away_score)s,
  %(home_penalty_score)s, %(away_penalty_score)s, %(match_status)s, %(scheduled_kickoff)s,
  %(location)s, %(source)s, %(scraped_at)s, %(raw)s)
ON CONFLICT (external_match_id) DO UPDATE SET
  home_team = EXCLUDED.home_team, away_team = EXCLUDED.away_team, match_date = EXCLUDED.match_date,
  season = EXCLUDED.season, age_group = EXCLUDED.age_group, match_type = EXCLUDED.match_type,
  league = EXCLUDED.league, division = EXCLUDED.division, home_score = EXCLUDED.home_score,
  away_score = EXCLUDED.away_score, home_penalty_score = EXCLUDED.home_penalty_score,
  away_penalty_score = EXCLUDED.away_penalty_score, match_status = EXCLUDED.match_status,
  scheduled_kickoff = EXCLUDED.scheduled_kickoff, location = EXCLUDED.location,
  source = EXCLUDED.source, scraped_at = EXCLUDED.scraped_at, raw = EXCLUDED.raw,
  updated_at = now()
"""
FIELDS = ("external_match_id", "home_team", "away_team", "match_date", "season", "age_group",
          "match_type", "league", "division", "home_score", "away_score", "home_penalty_score",
          "away_penalty_score", "match_status", "scheduled_kickoff", "location", "source", "scraped_at")

_conn = None
_durations = []


def connection():
    global _conn
    if _conn is None:
        _conn = psycopg2.connect(os.environ["BENCH_DSN"], application_name="celery-bench")
    return _conn


def flush_durations():
    directory = os.environ.get("BENCH_DURATIONS_DIR")
    if not directory or not _durations:
        return
    with open(os.path.join(directory, f"{os.getpid()}.txt"), "a", encoding="utf-8") as out:
        out.write("".join(f"{d:.3f}\n" for d in _durations))
    _durations.clear()


@worker_process_shutdown.connect
def _on_shutdown(**_kwargs):
    flush_durations()


@app.task(name=TASK, bind=True)
def process_match_data(self, match, *args, **kwargs):
    started = time.perf_counter()
    row = {f: match.get(f) for f in FIELDS}
    row["raw"] = json.dumps(match)
    conn = connection()
    with conn.cursor() as cur:
        cur.execute(UPSERT, row)
    conn.commit()
    _durations.append((time.perf_counter() - started) * 1000)
    if len(_durations) >= 500:
        flush_durations()
    return None

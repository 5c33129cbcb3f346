-- What a late observation needs to touch a match's status and scores, so that the keep rules
-- (a kept result, a manual status) no longer make the row depend on arrival order.
--
-- Why: the keep rules hold a stored value against a newer observation, and that observation
-- still moved the row's key (`observed_at`, `observed_task_id`). A result that arrived only after
-- a newer observation without a score (a retry, a late `dlq requeue`) was refused as older, where
-- in the other order it would have been kept: the same messages left different rows.
--
-- `status_observed_at`, `status_task_id`: the key of the newest observation after which every
-- observation the row took says only scheduled or tbd, without a score, on the row's date (the
-- observations a result survives). A late observation newer than this key still counts for the
-- status and the scores: a result on the row's date is applied (it would have been kept), and any
-- other kind (a score, a cancellation, another date) moves this key on (it would have ended a
-- kept result). `-infinity` (and no task id): no such observation, any late result counts. NULL:
-- a row written before this migration, whose history is unknown: read as the row's own key,
-- so a late observation changes nothing there, as before.
--
-- `feed_status`: the status the newest observation itself said, which a kept result or a manual
-- status hides: what the row goes back to when a late observation ends a kept result.
--
-- Adding nullable columns without a default rewrites nothing.

ALTER TABLE matches ADD COLUMN status_observed_at timestamptz;
ALTER TABLE matches ADD COLUMN status_task_id text;
ALTER TABLE matches ADD COLUMN feed_status text
  CHECK (feed_status IN ('scheduled', 'tbd', 'completed', 'postponed', 'cancelled'));

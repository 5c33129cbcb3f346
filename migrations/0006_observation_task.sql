-- The task whose observation a match row holds: with `observed_at`, the observation's key.
--
-- Why: two observations of one match at the same instant (two producers, a feed read twice in a
-- millisecond, a requeued letter beside a fresh scrape) that said different things were applied
-- in delivery order, so the row's final content depended on which came last: a redelivery could
-- swing it back and forth. An observation now applies only when its (observed_at, task id) is
-- not older than the row's, task ids compared byte by byte, so every order of the same messages
-- leaves the same row (unless a rule that keeps a stored value applies: a manual status, a kept
-- result). matchflow's own task ids are ordered by time. `last_task_id` stays the task that last changed the data (it pairs with
-- `raw`); this column moves with `observed_at`, also when only the time moved.
--
-- Rows written before this migration have none: any task of the same instant counts as newer.
-- Adding a nullable column without a default rewrites nothing.

ALTER TABLE matches ADD COLUMN observed_task_id text;

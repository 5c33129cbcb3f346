-- The task ids `celery control revoke` flagged, kept where every worker finds them.
--
-- Why: a Celery worker keeps revoked ids in memory (or in a local --statedb file), and a worker
-- starting takes them over only from the workers still running (mingle), stamped with each
-- host's monotonic clock. So a revoke was forgotten when every worker restarted at once (a
-- scale to zero, a node lost), and stamps meant little between pods on different hosts. Workers
-- with CELERY_CONTROL=control now write each revoke here and read the table at start-up: a
-- revoke lasts its three hours (Celery's REVOKE_EXPIRES) whatever restarts, on the database's
-- clock. Rows past that are deleted as new revokes are written.

CREATE TABLE celery_revoked (
  task_id text PRIMARY KEY CHECK (octet_length(task_id) BETWEEN 1 AND 255),
  revoked_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX celery_revoked_revoked_at ON celery_revoked (revoked_at);

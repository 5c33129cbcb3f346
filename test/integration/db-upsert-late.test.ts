/**
 * Observations that arrive after a newer one (a retry, a late `dlq requeue`, a twin in a batch):
 * with the keep rules (a kept result, a person's status) the row must still end as every other
 * order of the same observations leaves it (migration 0007, late-observation-sql.ts).
 */
import { describe, expect, it } from "vitest";
import type { MatchData } from "../../src/contract/index.js";
import type { Database } from "../../src/db/database.js";
import { getMatchByExternalId } from "../../src/db/queries.js";
import { createNameResolver, resolveInTransaction } from "../../src/db/resolve.js";
import { upsertMatches, type UpsertItem, type UpsertResult } from "../../src/db/upsert.js";
import { migrate } from "../../src/db/migrate.js";
import { migrationsBefore } from "../helpers/migrations.js";
import { BACKENDS, makeMatch, useBackend } from "./db-backends.js";

type Status = MatchData["match_status"];

const MIGRATION = "0007_status_observation.sql";

interface Observation {
  taskId: string;
  observedAt: string;
  data: Partial<MatchData>;
}

async function store(db: Database, externalId: string, observations: readonly Observation[]): Promise<UpsertResult[]> {
  const items: UpsertItem[] = observations.map((o) => {
    const match = makeMatch({ ...o.data, external_match_id: externalId });
    return { match, raw: match, taskId: o.taskId, observedAt: o.observedAt };
  });
  return resolveInTransaction(db, createNameResolver({ mode: "create" }), async (tx, resolve) => upsertMatches(tx, items, await resolve(items.map((i) => i.match))));
}

async function storeEach(db: Database, externalId: string, observations: readonly Observation[]): Promise<UpsertResult[]> {
  const out: UpsertResult[] = [];
  for (const o of observations) out.push(...(await store(db, externalId, [o])));
  return out;
}

/** What the row holds that observations decide (the audit columns `last_task_id`, `raw`, `updated_at` record the last write). */
async function rowState(db: Database, externalId: string): Promise<Record<string, unknown> | undefined> {
  const { rows } = await db.query(
    `SELECT match_status, home_score, away_score, home_penalty_score, away_penalty_score, match_date::text, location, status_set_by,
            observed_at, observed_task_id, status_observed_at::text, status_task_id, feed_status
       FROM matches WHERE external_match_id = $1`,
    [externalId],
  );
  return rows[0];
}

const at = (hour: number): string => `2026-10-0${hour}T12:00:00Z`;
const result = (home: number, away: number): Partial<MatchData> => ({ match_status: "completed", home_score: home, away_score: away });

/** A small deterministic generator (mulberry32): the same scenarios every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(next: () => number, xs: readonly T[]): T {
  return xs[Math.floor(next() * xs.length)] as T;
}

function shuffled<T>(next: () => number, xs: readonly T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Observations over a few instants (ties included), statuses, scores and two dates. */
function scenario(next: () => number, size: number): Observation[] {
  return Array.from({ length: size }, (_, n) => {
    const status = pick<Status>(next, ["scheduled", "scheduled", "tbd", "completed", "completed", "cancelled", "postponed"]);
    const scored = status === "completed" || (status === "scheduled" && next() < 0.2); // live scores on a scheduled match
    return {
      // Task ids of one width, so that byte order is the order they were made in.
      taskId: `task-${String(n).padStart(2, "0")}-${Math.floor(next() * 1000)}`,
      observedAt: at(1 + Math.floor(next() * 3)),
      data: {
        match_status: status,
        match_date: pick(next, ["2026-10-03", "2026-10-03", "2026-10-10"]),
        location: `Field ${n}`,
        ...(scored ? { home_score: Math.floor(next() * 3), away_score: Math.floor(next() * 3) } : {}),
      },
    };
  });
}

const keyOrder = (a: Observation, b: Observation): number => a.observedAt.localeCompare(b.observedAt) || Buffer.compare(Buffer.from(a.taskId), Buffer.from(b.taskId));

describe.each(BACKENDS)("late observations on %s", (kind) => {
  const backend = useBackend(kind);

  it("a result that arrives after a newer observation without a score is the row's, as in the other order", async () => {
    const { db } = backend();
    const played: Observation = { taskId: "task-a", observedAt: at(1), data: { ...result(2, 1), location: "Field 1" } };
    const dropped: Observation = { taskId: "task-b", observedAt: at(2), data: { match_status: "scheduled", location: "Field 2" } };

    await storeEach(db, "in-order", [played, dropped]);
    const late = await storeEach(db, "late", [dropped, played]);
    expect(late[1]).toMatchObject({ outcome: "updated" });
    const row = await rowState(db, "late");
    expect(row).toMatchObject({ match_status: "completed", home_score: 2, away_score: 1, location: "Field 2", feed_status: "scheduled" });
    expect(row).toEqual(await rowState(db, "in-order"));
    // The late task changed the data: it is the one that last did, with its payload.
    const stored = await getMatchByExternalId(db, "late");
    expect(stored?.raw).toMatchObject({ location: "Field 1", home_score: 2 });

    // In one batch too, whichever stands first.
    await store(db, "batch", [dropped, played]);
    expect(await rowState(db, "batch")).toEqual(row);
  });

  it("a late cancellation ends a kept result: the row takes what the newest observation said", async () => {
    const { db } = backend();
    const played: Observation = { taskId: "task-a", observedAt: at(1), data: result(3, 0) };
    const cancelled: Observation = { taskId: "task-b", observedAt: at(2), data: { match_status: "cancelled" } };
    const dropped: Observation = { taskId: "task-c", observedAt: at(3), data: { match_status: "tbd" } };

    await storeEach(db, "in-order", [played, cancelled, dropped]);
    expect(await rowState(db, "in-order")).toMatchObject({ match_status: "tbd", home_score: null });
    const results = await storeEach(db, "late", [played, dropped, cancelled]);
    expect(results.map((r) => (r as { outcome: string }).outcome)).toEqual(["created", "unchanged", "updated"]);
    expect(await rowState(db, "late")).toEqual(await rowState(db, "in-order"));
    // A result older than the cancellation is refused from now on: the cancellation ended it.
    expect(await store(db, "late", [{ taskId: "task-d", observedAt: "2026-10-01T13:00:00Z", data: result(5, 5) }])).toEqual([expect.objectContaining({ outcome: "unchanged", reason: "stale" })]);
    expect(await rowState(db, "late")).toMatchObject({ match_status: "tbd", home_score: null });
  });

  it("a late observation of another date moves the key without changing the status; an older result after it is refused", async () => {
    const { db } = backend();
    const now: Observation = { taskId: "task-c", observedAt: at(3), data: { match_status: "scheduled" } };
    const moved: Observation = { taskId: "task-b", observedAt: at(2), data: { match_status: "scheduled", match_date: "2026-10-10" } };
    const played: Observation = { taskId: "task-a", observedAt: at(1), data: result(1, 1) };
    const results = await storeEach(db, "late", [now, moved, played]);
    expect(results.slice(1)).toEqual([expect.objectContaining({ outcome: "unchanged", reason: "stale" }), expect.objectContaining({ outcome: "unchanged", reason: "stale" })]);
    expect(await rowState(db, "late")).toMatchObject({ match_status: "scheduled", home_score: null, match_date: "2026-10-03", status_task_id: "task-b" });
    await storeEach(db, "in-order", [played, moved, now]);
    expect(await rowState(db, "late")).toEqual(await rowState(db, "in-order"));
  });

  it("a late result overrides a person's postponed status, as a newer one does; a late cancellation without a score does not", async () => {
    const { db } = backend();
    await store(db, "manual", [{ taskId: "task-c", observedAt: at(3), data: { match_status: "scheduled" } }]);
    await db.query("UPDATE matches SET match_status = 'postponed', status_set_by = 'manual' WHERE external_match_id = 'manual'");
    expect(await store(db, "manual", [{ taskId: "task-b", observedAt: at(2), data: { match_status: "cancelled" } }])).toEqual([expect.objectContaining({ outcome: "unchanged", reason: "stale" })]);
    expect(await rowState(db, "manual")).toMatchObject({ match_status: "postponed", status_set_by: "manual", status_task_id: "task-b" });

    // Older than the cancellation: refused (the cancellation would have ended it).
    expect(await store(db, "manual", [{ taskId: "task-a", observedAt: at(1), data: result(4, 2) }])).toEqual([expect.objectContaining({ reason: "stale" })]);
    // Newer than it: a score arrived.
    expect(await store(db, "manual", [{ taskId: "task-bb", observedAt: "2026-10-02T13:00:00Z", data: result(4, 2) }])).toEqual([expect.objectContaining({ outcome: "updated" })]);
    expect(await rowState(db, "manual")).toMatchObject({ match_status: "completed", home_score: 4, status_set_by: "scraper", feed_status: "scheduled" });
  });

  it("a locked row and a row written before migration 0007 change for no late observation", async () => {
    const { db } = backend();
    const dropped: Observation = { taskId: "task-b", observedAt: at(2), data: { match_status: "scheduled" } };
    const played: Observation = { taskId: "task-a", observedAt: at(1), data: result(2, 0) };
    await store(db, "locked", [dropped]);
    await db.query("UPDATE matches SET score_locked = true WHERE external_match_id = 'locked'");
    expect(await store(db, "locked", [played])).toEqual([expect.objectContaining({ outcome: "unchanged", reason: "locked" })]);

    await store(db, "legacy", [dropped]);
    await db.query("UPDATE matches SET status_observed_at = NULL, status_task_id = NULL, feed_status = NULL WHERE external_match_id = 'legacy'");
    expect(await store(db, "legacy", [played])).toEqual([expect.objectContaining({ outcome: "unchanged", reason: "stale" })]);
    expect(await rowState(db, "legacy")).toMatchObject({ match_status: "scheduled", home_score: null, status_observed_at: null });
    // Its next newer observation gives it a key: the row's own, so what came before stays refused.
    await store(db, "legacy", [{ taskId: "task-c", observedAt: at(3), data: { match_status: "tbd" } }]);
    expect(await rowState(db, "legacy")).toMatchObject({ status_task_id: "task-b", feed_status: "tbd" });
    expect(await store(db, "legacy", [played])).toEqual([expect.objectContaining({ reason: "stale" })]);
  });

  it("random sets of observations leave the same row in every order, one by one and in one batch, as in the order of their keys", async () => {
    const { db } = backend();
    const next = random(20261203);
    const scenarios = kind === "pglite" ? 25 : 60;
    for (let s = 0; s < scenarios; s++) {
      const observations = scenario(next, 3 + Math.floor(next() * 3));
      await storeEach(db, `ref-${s}`, [...observations].sort(keyOrder));
      const expected = await rowState(db, `ref-${s}`);
      for (let k = 0; k < 3; k++) {
        const order = shuffled(next, observations);
        const label = `scenario ${s}: ${order.map((o) => `${o.taskId}@${o.observedAt.slice(8, 10)} ${JSON.stringify(o.data)}`).join(" | ")}`;
        await storeEach(db, `each-${s}-${k}`, order);
        expect(await rowState(db, `each-${s}-${k}`), label).toEqual(expected);
        await store(db, `batch-${s}-${k}`, order);
        expect(await rowState(db, `batch-${s}-${k}`), `${label} (one batch)`).toEqual(expected);
      }
    }
  });
});

describe("migration 0007", () => {
  const backend = useBackend("postgres", { migrated: false });

  it("adds the status key and the feed's status to an existing matches table, its rows left without (read as before)", async () => {
    const { db } = backend();
    const before = await migrationsBefore(MIGRATION);
    try {
      await migrate(db, { dir: before.dir });
      const columns = () => db.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_name = 'matches' AND column_name IN ('status_observed_at', 'status_task_id', 'feed_status') ORDER BY 1`);
      expect((await columns()).rows).toEqual([]);
      expect((await migrate(db)).applied).toEqual(before.pending);
      expect(before.pending[0]).toBe(MIGRATION);
      expect((await columns()).rows.map((r) => r.column_name)).toEqual(["feed_status", "status_observed_at", "status_task_id"]);
    } finally {
      await before.remove();
    }
    await store(db, "after", [{ taskId: "task-a", observedAt: at(1), data: { match_status: "tbd" } }]);
    await expect(db.query("UPDATE matches SET feed_status = 'played'")).rejects.toThrow(/check constraint/);
  });
});

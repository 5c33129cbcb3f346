/**
 * The worker's writes of revoked ids (worker/stored-revokes.ts) against a real PostgreSQL: a burst
 * is written in two statements, not one each; a write the database refuses for a while (the table
 * renamed away, as in a migration gone wrong) is kept and tried again until it lands, and the
 * stop gives what is pending a last try; a running worker reads the revokes written since its last
 * read (and a minute before, for a transaction that committed late), not all three hours each time.
 */
import { describe, expect, it } from "vitest";
import type { Database, Queryable } from "../../src/db/database.js";
import { createLogger } from "../../src/log.js";
import { storeRevoked, storeRevokedAt, type StoredRevoke } from "../../src/db/revoked.js";
import { StoredRevokes } from "../../src/worker/stored-revokes.js";
import { until } from "../helpers/cli.js";
import { useBackend } from "./db-backends.js";

function capturingLogger(): { log: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: "info", destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) } });
  return { log, lines };
}

/** The real database, with the inserts into and reads of celery_revoked counted. */
function counting(db: Database): { db: Queryable; inserts: () => number; reads: () => number } {
  let inserts = 0;
  let reads = 0;
  const counted: Queryable = {
    query: (text: string, params?: unknown[]) => {
      if (/INSERT INTO celery_revoked/.test(text)) inserts++;
      if (/FROM celery_revoked/.test(text) && /^\s*SELECT/.test(text)) reads++;
      return db.query(text, params);
    },
  } as Queryable;
  return { db: counted, inserts: () => inserts, reads: () => reads };
}

async function storedIds(db: Queryable): Promise<string[]> {
  const { rows } = await db.query<{ task_id: string }>("SELECT task_id FROM celery_revoked ORDER BY task_id");
  return rows.map((r) => r.task_id);
}

/** Runs `fn` while celery_revoked is renamed away (every statement on it fails, as in a migration gone wrong), then puts it back. */
async function whileTableAway(db: Queryable, fn: () => Promise<void>): Promise<void> {
  await db.query("ALTER TABLE celery_revoked RENAME TO celery_revoked_away");
  try {
    await fn();
  } finally {
    await db.query("ALTER TABLE celery_revoked_away RENAME TO celery_revoked");
  }
}

describe("the worker's revoke writes (PostgreSQL)", () => {
  const backend = useBackend("postgres");

  it("writes a burst of 100 revokes in two inserts: the first one, then all that came while it ran", async () => {
    const { db } = backend();
    const { log } = capturingLogger();
    const c = counting(db);
    const stored = new StoredRevokes(c.db, log);
    const ids = Array.from({ length: 100 }, (_, i) => `b-${String(i).padStart(3, "0")}`);
    for (const id of ids) stored.store([id]);
    await stored.settled();
    expect(c.inserts()).toBe(2);
    expect((await storedIds(db)).filter((id) => id.startsWith("b-"))).toEqual(ids);
  });

  it("keeps a write the database refuses and tries it again until it lands; ids that came meanwhile go with it", async () => {
    const { db } = backend();
    const { log, lines } = capturingLogger();
    const stored = new StoredRevokes(db, log, 50);
    await whileTableAway(db, async () => {
      stored.store(["r-1"]);
      await until(() => lines.filter((l) => l.code === "revoke_not_stored").length >= 2, 10_000, "two failed tries");
      expect(lines.find((l) => l.code === "revoke_not_stored")).toMatchObject({ msg: "revoked tasks not written to the database yet: trying again", ids: ["r-1"], retryInMs: 50 });
      stored.store(["r-2"]);
      stored.storeAt([["r-3", Date.now() - 60_000]]);
    });
    await until(async () => (await storedIds(db)).filter((id) => id.startsWith("r-")).length === 3, 10_000, "r-1, r-2 and r-3 written");
    await stored.settled();
  });

  it("the stop gives a write waiting for its retry one last try, and gives up if that fails too", async () => {
    const { db } = backend();
    const { log, lines } = capturingLogger();
    const stored = new StoredRevokes(db, log, 60_000);
    await whileTableAway(db, async () => {
      stored.store(["s-1"]);
      await until(() => lines.some((l) => l.code === "revoke_not_stored"), 10_000, "the failed write");
    });
    // Not a minute later: at the stop.
    await stored.settled();
    expect((await storedIds(db)).filter((id) => id.startsWith("s-"))).toEqual(["s-1"]);

    const doomed = new StoredRevokes(db, log, 60_000);
    await whileTableAway(db, async () => {
      doomed.store(["s-2"]);
      await doomed.settled();
      expect(lines.at(-1)).toMatchObject({ code: "revoke_not_stored", ids: ["s-2"], msg: "revoked tasks not written to the database: a worker starting after every other one stopped will not know them" });
    });
  });

  it("watch: reads the revokes written since the last read and a minute before it, not older ones; a failed read is said once and tried again", async () => {
    const { db } = backend();
    const { log, lines } = capturingLogger();
    const c = counting(db);
    const stored = new StoredRevokes(c.db, log);
    await stored.load();
    const reads: StoredRevoke[][] = [];
    const readIds = () => reads.at(-1)?.map(([id]) => id) ?? [];
    stored.watch((entries) => reads.push(entries), 50);
    try {
      await storeRevoked(db, ["w-1"], 3 * 3_600_000);
      await until(() => readIds().includes("w-1"), 10_000, "w-1 read");
      // Committed with a time 30 s back: inside the minute a read reaches before the last one.
      await storeRevokedAt(db, [["w-late", Date.now() - 30_000], ["w-old", Date.now() - 2 * 3_600_000]], 3 * 3_600_000);
      await until(() => readIds().includes("w-late"), 10_000, "w-late read");
      expect(readIds()).not.toContain("w-old");

      const failedTurns = () => lines.filter((l) => l.code === "revoke_not_loaded").length;
      await whileTableAway(db, async () => {
        await until(() => failedTurns() === 1, 10_000, "a failed read");
        // Turns run one after another: a read begun before the rename has ended by now.
        const before = reads.length;
        // Three more turns fail: said once.
        const tried = c.reads();
        await until(() => c.reads() >= tried + 3, 10_000, "three more reads");
        expect(failedTurns()).toBe(1);
        expect(reads.length).toBe(before);
      });
      await storeRevoked(db, ["w-2"], 3 * 3_600_000);
      await until(() => readIds().includes("w-2"), 10_000, "w-2 read after the failures");
    } finally {
      await stored.settled();
    }
    // Stopped: no read while a watch still running (same interval) makes four.
    const turns = c.reads();
    const control = counting(db);
    const running = new StoredRevokes(control.db, log);
    await running.load();
    const from = control.reads();
    running.watch(() => undefined, 50);
    try {
      await until(() => control.reads() >= from + 4, 10_000, "four reads of a running watch");
    } finally {
      await running.settled();
    }
    expect(c.reads()).toBe(turns);
  });
});

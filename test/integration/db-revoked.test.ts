import { describe, expect, it } from "vitest";
import { loadRevoked, storeRevoked, storeRevokedAt } from "../../src/db/revoked.js";
import { BACKENDS, useBackend } from "./db-backends.js";

const HOUR = 3_600_000;

describe.each(BACKENDS)("celery_revoked on %s", (kind) => {
  const backend = useBackend(kind);

  it("stores revoked ids once each at the database's time and reads them back oldest first", async () => {
    const { db } = backend();
    const before = Date.now();
    await storeRevoked(db, ["a", "b", "a"], 3 * HOUR);
    await db.query("UPDATE celery_revoked SET revoked_at = revoked_at - interval '1 hour' WHERE task_id = 'b'");
    await storeRevoked(db, ["c", "é".repeat(127)], 3 * HOUR);
    const loaded = await loadRevoked(db, 3 * HOUR, 100);
    // b an hour older; a, then c and the long id together (one statement: one time).
    expect(loaded.slice(0, 2).map(([id]) => id)).toEqual(["b", "a"]);
    expect(new Set(loaded.slice(2).map(([id]) => id))).toEqual(new Set(["c", "é".repeat(127)]));
    const at = new Map(loaded);
    // The database's clock, which here is this host's.
    expect(at.get("a")).toBeGreaterThanOrEqual(before - 5_000);
    expect(at.get("a")).toBeLessThanOrEqual(Date.now() + 5_000);
    expect(at.get("a")! - at.get("b")!).toBeGreaterThan(HOUR - 5_000);
  });

  it("revoking again starts the expiry over; expired revokes are not read and are deleted by the next write", async () => {
    const { db } = backend();
    await storeRevoked(db, ["old", "renewed"], 3 * HOUR);
    await db.query("UPDATE celery_revoked SET revoked_at = revoked_at - interval '4 hours'");
    expect(await loadRevoked(db, 3 * HOUR, 100)).toEqual([]);
    await storeRevoked(db, ["renewed"], 3 * HOUR);
    expect((await loadRevoked(db, 3 * HOUR, 100)).map(([id]) => id)).toEqual(["renewed"]);
    const { rows } = await db.query<{ task_id: string }>("SELECT task_id FROM celery_revoked");
    expect(rows.map((r) => r.task_id)).toEqual(["renewed"]);
  });

  it("stores revokes taken over from other workers at their own times: the later time of an id wins, expired ones are left out", async () => {
    const { db } = backend();
    const now = Date.now();
    await storeRevoked(db, ["known"], 3 * HOUR);
    await db.query("UPDATE celery_revoked SET revoked_at = revoked_at - interval '2 hours'");
    await storeRevokedAt(db, [["known", now - HOUR], ["new", now - 30 * 60_000], ["new", now - 90 * 60_000], ["expired", now - 4 * HOUR]], 3 * HOUR);
    const at = new Map((await loadRevoked(db, 3 * HOUR, 100)).filter(([id]) => ["known", "new", "expired"].includes(id)));
    expect([...at.keys()]).toEqual(["known", "new"]);
    expect(at.get("known")).toBeCloseTo(now - HOUR, -2);
    expect(at.get("new")).toBeCloseTo(now - 30 * 60_000, -2);
    // An older time than the stored one does not move it back.
    await storeRevokedAt(db, [["known", now - 2.5 * HOUR]], 3 * HOUR);
    expect((await loadRevoked(db, 3 * HOUR, 100)).find(([id]) => id === "known")?.[1]).toBeCloseTo(now - HOUR, -2);
  });

  it("reads only the newest `max`, and refuses what is no task id", async () => {
    const { db } = backend();
    await storeRevoked(db, ["r1"], 3 * HOUR);
    await db.query("UPDATE celery_revoked SET revoked_at = revoked_at - interval '2 hours'");
    await storeRevoked(db, ["r2"], 3 * HOUR);
    await db.query("UPDATE celery_revoked SET revoked_at = revoked_at - interval '1 hour' WHERE task_id = 'r2'");
    await storeRevoked(db, ["r3"], 3 * HOUR);
    expect((await loadRevoked(db, 3 * HOUR, 2)).map(([id]) => id)).toEqual(["r2", "r3"]);
    await expect(storeRevoked(db, ["x".repeat(256)], 3 * HOUR)).rejects.toThrow(/celery_revoked_task_id_check/);
    await expect(storeRevoked(db, [""], 3 * HOUR)).rejects.toThrow(/celery_revoked_task_id_check/);
  });
});

import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { listIngestFailures, recordIngestFailure } from "../../src/db/failures.js";
import { BACKENDS, useBackend } from "./db-backends.js";

describe.each(BACKENDS)("ingest failures on %s", (kind) => {
  const backend = useBackend(kind);

  it("records a failure once per task id and counts repeats", async () => {
    const { db } = backend();
    const raw = { home_team: "A", away_team: "A", extra: true };
    const first = await recordIngestFailure(db, { reasonCode: "contract_invalid", detail: "away_team: must differ", taskId: "t-1", messageId: "m-1", externalMatchId: "e-1", raw });
    const second = await recordIngestFailure(db, { reasonCode: "contract_invalid", detail: "away_team: must differ", taskId: "t-1", messageId: "m-1b", raw });
    expect(first.count).toBe(1);
    expect(second).toEqual({ id: first.id, count: 2 });
    await recordIngestFailure(db, { reasonCode: "unresolved_name", detail: "unknown team", taskId: "t-2", raw });

    const all = await listIngestFailures(db, { limit: 10 });
    expect(all).toHaveLength(2);
    const t1 = all.find((f) => f.taskId === "t-1");
    expect(t1).toMatchObject({ reasonCode: "contract_invalid", count: 2, messageId: "m-1", externalMatchId: "e-1", rawPayload: raw, rawText: null, resolvedAt: null });
    expect(t1!.lastSeen.getTime()).toBeGreaterThanOrEqual(t1!.firstSeen.getTime());
  });

  it("keeps a payload that was not JSON as text, and dedupes on the message id without a task id", async () => {
    const { db } = backend();
    await recordIngestFailure(db, { reasonCode: "body_not_json", detail: "Unexpected token", messageId: "m-9", raw: "{not json" });
    const again = await recordIngestFailure(db, { reasonCode: "body_not_json", detail: "Unexpected token", messageId: "m-9", raw: "{not json" });
    expect(again.count).toBe(2);
    const [f] = await listIngestFailures(db);
    expect(f).toMatchObject({ rawText: "{not json", rawPayload: null, taskId: null, count: 2 });
  });

  it("lists unresolved only when asked, and a repeat reopens a resolved failure", async () => {
    const { db } = backend();
    const a = await recordIngestFailure(db, { reasonCode: "x", detail: "", taskId: "t-a", raw: {} });
    await recordIngestFailure(db, { reasonCode: "x", detail: "", taskId: "t-b", raw: {} });
    await db.query("UPDATE ingest_failures SET resolved_at = now() WHERE id = $1", [a.id]);
    expect((await listIngestFailures(db, { unresolvedOnly: true })).map((f) => f.taskId)).toEqual(["t-b"]);
    expect(await listIngestFailures(db, { unresolvedOnly: false })).toHaveLength(2);
    await recordIngestFailure(db, { reasonCode: "x", detail: "again", taskId: "t-a", raw: {} });
    expect((await listIngestFailures(db, { unresolvedOnly: true })).map((f) => f.taskId).sort()).toEqual(["t-a", "t-b"]);
  });

  it("never fails on payloads PostgreSQL cannot store as jsonb (NUL, lone surrogates)", async () => {
    const { db } = backend();
    await recordIngestFailure(db, { reasonCode: "db_data", detail: "bad \u0000 value", taskId: "t-nul", raw: { home_team: "A\u0000B" } });
    await recordIngestFailure(db, { reasonCode: "db_data", detail: "", taskId: "t-sur", raw: { home_team: "A\ud800B" } });
    await recordIngestFailure(db, { reasonCode: "body_not_json", detail: "", taskId: "t-txt", raw: "x\u0000y" });
    const byTask = new Map((await listIngestFailures(db)).map((f) => [f.taskId, f]));
    expect(byTask.get("t-nul")).toMatchObject({ rawPayload: null, rawText: '{"home_team":"A\\u0000B"}', detail: "bad \\u0000 value" });
    expect(byTask.get("t-sur")?.rawText).toContain("\\ud800");
    expect(byTask.get("t-txt")?.rawText).toBe("x\\u0000y");
    // Text that merely reads \u0000 (a backslash, then u0000) is storable: it stays a jsonb payload.
    await recordIngestFailure(db, { reasonCode: "db_data", detail: "", taskId: "t-esc", raw: { notes: "C:\\u0000 and \\ud800" } });
    expect((await listIngestFailures(db)).find((f) => f.taskId === "t-esc")).toMatchObject({ rawPayload: { notes: "C:\\u0000 and \\ud800" }, rawText: null });
  });

  it("records a failure whose task id is too long for an index (a producer's choice) once per id, under its beginning and hash", async () => {
    const { db } = backend();
    // Random, so that PostgreSQL cannot compress it under the unique index's row limit (~2.7 KB).
    const long = randomBytes(4000).toString("hex");
    const other = `${long.slice(0, -1)}${long.endsWith("0") ? "1" : "0"}`;
    const first = await recordIngestFailure(db, { reasonCode: "contract_violation", detail: "", taskId: long, raw: {} });
    expect(await recordIngestFailure(db, { reasonCode: "contract_violation", detail: "", taskId: long, raw: {} })).toEqual({ id: first.id, count: 2 });
    expect((await recordIngestFailure(db, { reasonCode: "contract_violation", detail: "", taskId: other, raw: {} })).count).toBe(1);
    const ids = (await listIngestFailures(db)).map((f) => f.taskId ?? "");
    expect(ids).toHaveLength(2);
    for (const id of ids) {
      expect(id.startsWith(long.slice(0, 150))).toBe(true);
      expect(id.length).toBeLessThan(300);
    }
  });
});

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { migrate } from "../../src/db/migrate.js";
import { openDatabase } from "../../src/db/open.js";
import { PGLITE_LOCK_FILE } from "../../src/db/pglite-lock.js";
import { createLogger } from "../../src/log.js";
import { until } from "../helpers/cli.js";
import { adminQuery, createTestDatabase } from "../helpers/pg.js";
import { BACKENDS, useBackend } from "./db-backends.js";

describe("openDatabase", () => {
  it("an unreachable PostgreSQL is a transient database_unreachable naming host:port, never the password", async () => {
    const err: unknown = await openDatabase("postgres://matchflow:s3cret-pw@127.0.0.1:1/nowhere").catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "database_unreachable", kind: "transient" });
    const message = (err as Error).message;
    expect(message).toContain("127.0.0.1:1");
    expect(message).not.toContain("s3cret-pw");
    expect(message.split("\n")).toHaveLength(1);
  });

  it("a connection lost while idle is logged once, whether or not it was handed out before (it was logged twice: idle and in use)", async () => {
    const test = await createTestDatabase();
    const lines: { msg?: string }[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString("utf8")) as { msg?: string });
        done();
      },
    });
    const db = await openDatabase(test.url, { log: createLogger({ destination, level: "warn" }), poolSize: 1 });
    try {
      // The pool's one connection: handed out by a transaction, then idle again.
      await db.transaction((tx) => tx.query("SELECT 1"));
      await adminQuery("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [test.name]);
      await until(() => Promise.resolve(lines.length > 0), 10_000, "the lost connection logged");
      // Both listeners hear the socket's error in the same turn: a second line would be here by now.
      expect(lines.map((l) => l.msg)).toEqual(["database connection lost"]);
    } finally {
      await db.close();
      await test.drop();
    }
  });

  it("rejects an unknown URL scheme as a setting to mend (config_invalid, permanent), not an outage to wait on", async () => {
    await expect(openDatabase("mysql://localhost/x")).rejects.toMatchObject({ code: "config_invalid", kind: "permanent" });
    await expect(openDatabase("pglite:memory")).rejects.toMatchObject({ code: "config_invalid" });
  });

  it("reads the scheme in any case, as node-postgres does", async () => {
    const embedded = await openDatabase("PGLITE://memory");
    try {
      expect(embedded.kind).toBe("pglite");
    } finally {
      await embedded.close();
    }
    const err: unknown = await openDatabase("POSTGRES://matchflow@127.0.0.1:1/nowhere").catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "database_unreachable", kind: "transient" });
  });

  it("pglite://<dir> persists across reopen", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "mf-pglite-"));
    try {
      const first = await openDatabase(`pglite://${dir}`);
      expect(first.kind).toBe("pglite");
      await migrate(first);
      await first.query("INSERT INTO leagues (name) VALUES ($1)", ["Academy"]);
      await first.close();
      await first.close(); // idempotent

      const second = await openDatabase(`pglite://${dir}`);
      try {
        expect((await migrate(second)).applied).toEqual([]);
        const { rows } = await second.query<{ name: string }>("SELECT name FROM leagues");
        expect(rows).toEqual([{ name: "Academy" }]);
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("PGlite directory lock (one process at a time)", () => {
  it("a directory held by another running process is refused, naming it; taken over once it is gone", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "mf-pglite-lock-"));
    const holder = spawn("sleep", ["60"], { stdio: "ignore" });
    try {
      await writeFile(path.join(dir, PGLITE_LOCK_FILE), `${holder.pid}\n`);
      const err: unknown = await openDatabase(`pglite://${dir}`).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "database_in_use" });
      expect((err as Error).message).toContain(`in use by process ${holder.pid}`);

      const exited = new Promise((resolve) => holder.once("exit", resolve));
      holder.kill("SIGKILL");
      await exited;
      // The holder died without cleaning up (kill -9): its file is stale and taken over.
      const db = await openDatabase(`pglite://${dir}`);
      expect(await readFile(path.join(dir, PGLITE_LOCK_FILE), "utf8")).toBe(`${process.pid}\n`);
      await db.close();
      expect(existsSync(path.join(dir, PGLITE_LOCK_FILE))).toBe(false);
    } finally {
      holder.kill("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("processes racing to take over a stale lock: exactly one wins", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "mf-pglite-race-"));
    const gone = spawn("true");
    await new Promise((resolve) => gone.once("exit", resolve));
    // Each racer loads, says "ready", tries once on "go", says "won" or "lost", and holds what it
    // won until its stdin closes: every attempt happens while a winner still holds the lock.
    const script = [
      `import { lockPgliteDir } from ${JSON.stringify(path.resolve("src/db/pglite-lock.ts"))};`,
      `process.stdout.write("ready\\n");`,
      `process.stdin.once("data", () => {`,
      `  let won = false;`,
      `  try { lockPgliteDir(${JSON.stringify(dir)}); won = true; } catch {}`,
      `  process.stdout.write(won ? "won\\n" : "lost\\n");`,
      `  process.stdin.on("data", () => undefined).once("end", () => process.exit(0));`,
      `});`,
    ].join("\n");
    const racer = () => {
      const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["pipe", "pipe", "inherit"] });
      let out = "";
      const said = (pattern: RegExp) =>
        new Promise<string>((resolve) => {
          const check = () => {
            const m = pattern.exec(out);
            if (m) {
              child.stdout.off("data", onData);
              resolve(m[0]);
            }
          };
          const onData = (d: Buffer) => {
            out += d.toString();
            check();
          };
          child.stdout.on("data", onData);
          check();
        });
      return { child, said };
    };
    try {
      for (let round = 0; round < 2; round++) {
        await writeFile(path.join(dir, PGLITE_LOCK_FILE), `${gone.pid}\n`); // left by a holder that died
        const racers = Array.from({ length: 8 }, racer);
        await Promise.all(racers.map((r) => r.said(/ready/)));
        for (const r of racers) r.child.stdin.write("go\n");
        const results = await Promise.all(racers.map((r) => r.said(/won|lost/)));
        expect(results.filter((w) => w === "won")).toHaveLength(1);
        await Promise.all(racers.map((r) => new Promise((resolve) => {
          r.child.once("exit", resolve);
          r.child.stdin.end();
        })));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it("a directory already open in this process is refused until it is closed", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "mf-pglite-lock-"));
    try {
      const first = await openDatabase(`pglite://${dir}`);
      await expect(openDatabase(`pglite://${dir}`)).rejects.toThrow(/already open in this process/);
      await first.close();
      const again = await openDatabase(`pglite://${dir}`);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.each(BACKENDS)("Database on %s", (kind) => {
  const backend = useBackend(kind);

  it("commits on success, rolls back on throw, classifies SQL errors", async () => {
    const { db } = backend();
    expect(db.kind).toBe(kind);
    await db.transaction(async (tx) => {
      await tx.query("INSERT INTO leagues (name) VALUES ($1)", ["Committed"]);
    });
    await expect(
      db.transaction(async (tx) => {
        await tx.query("INSERT INTO leagues (name) VALUES ($1)", ["Rolled back"]);
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    const { rows } = await db.query<{ name: string }>("SELECT name FROM leagues ORDER BY name");
    expect(rows.map((r) => r.name)).toEqual(["Committed"]);
    await expect(db.query("INSERT INTO leagues (name) VALUES ($1)", ["committed "])).rejects.toMatchObject({ code: "db_constraint", kind: "permanent" });
    await expect(db.query("SELECT * FROM no_such_table")).rejects.toMatchObject({ code: "db_schema" });
  });

  it("concurrent transactions do not interleave: another never sees uncommitted rows", async () => {
    const { db } = backend();
    let releaseA: () => void = () => undefined;
    const aMayFinish = new Promise<void>((resolve) => (releaseA = resolve));
    const a = db
      .transaction(async (tx) => {
        await tx.query("INSERT INTO leagues (name) VALUES ($1)", ["Uncommitted"]);
        await aMayFinish;
        throw new Error("roll A back");
      })
      .catch((e: unknown) => e);
    // B starts while A holds an uncommitted row. On PGlite (one connection) B must queue
    // behind A; run inside A's session it would see A's row.
    const b = db.transaction(async (tx) => {
      const { rows } = await tx.query<{ n: number | string }>("SELECT count(*) AS n FROM leagues WHERE name = $1", ["Uncommitted"]);
      return Number(rows[0]?.n);
    });
    // Give B every chance to run before A finishes (a few turns of the event loop).
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    releaseA();
    expect(await a).toMatchObject({ message: "roll A back" });
    expect(await b).toBe(0);
    const { rows } = await db.query<{ n: number | string }>("SELECT count(*) AS n FROM leagues");
    expect(Number(rows[0]?.n)).toBe(0);
  });
});

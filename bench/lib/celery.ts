/**
 * The Python Celery 5 baseline (Debian's python3-celery under /usr/bin/python3): a prefork
 * worker running bench/celery_bench/tasks.py, and Celery's own producer (send.py).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestVhost } from "../../test/helpers/rabbit.js";
import { registerCleanup } from "./services.js";
import { startChild, waitFor, type Child } from "./proc.js";

export const PYTHON = process.env.MATCHFLOW_CELERY_PYTHON ?? "/usr/bin/python3";
const CELERY_DIR = fileURLToPath(new URL("../celery_bench/", import.meta.url));

export interface CeleryWorkerProcess extends Child {
  /** Task run times (upsert + commit) the pool processes wrote, ms. Complete after the stop. */
  taskDurations(): number[];
}

/** A scratch directory removed at cleanup. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  registerCleanup(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  return dir;
}

/** Starts the Celery prefork worker and waits until it consumes from `matches`. */
export async function startCeleryWorker(vhost: TestVhost, databaseUrl: string, concurrency: number): Promise<CeleryWorkerProcess> {
  const durationsDir = scratchDir("mf-bench-celery-");
  const child = startChild(
    PYTHON,
    ["-m", "celery", "-A", "tasks", "worker", "-P", "prefork", "-c", String(concurrency), "-Q", "matches", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning"],
    { cwd: CELERY_DIR, env: { ...process.env, BENCH_BROKER: vhost.url, BENCH_DSN: databaseUrl, BENCH_DURATIONS_DIR: durationsDir, PYTHONDONTWRITEBYTECODE: "1" } },
  );
  registerCleanup(async () => {
    if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill("SIGKILL");
    await child.exited;
  });
  await waitFor("the Celery worker to consume", async () => ((await vhost.queue("matches").catch(() => undefined))?.consumers ?? 0) > 0 || child.child.exitCode !== null, 60_000, () => child.output(), 200);
  if (child.child.exitCode !== null) throw new Error(`the Celery worker exited with ${child.child.exitCode}\n${child.output()}`);
  return {
    ...child,
    taskDurations() {
      const out: number[] = [];
      for (const f of readdirSync(durationsDir)) {
        for (const line of readFileSync(join(durationsDir, f), "utf8").split("\n")) if (line) out.push(Number(line));
      }
      return out;
    },
  };
}

/** Publishes with Celery's send_task; resolves with the first/last publish instants (epoch ms). */
export async function celerySendTask(vhost: TestVhost, matches: unknown[]): Promise<{ firstMs: number; lastMs: number; child: Child }> {
  const dir = scratchDir("mf-bench-send-");
  const file = join(dir, "matches.ndjson");
  writeFileSync(file, matches.map((m) => JSON.stringify(m)).join("\n") + "\n");
  const child = startChild(PYTHON, ["send.py", vhost.url, file], { cwd: CELERY_DIR, env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } });
  let result: { first: number; last: number } | undefined;
  child.onLine((line) => {
    if (line.startsWith("{")) result = JSON.parse(line) as { first: number; last: number };
  });
  const code = await child.exited;
  if (code !== 0 || !result) throw new Error(`send.py failed (${code})\n${child.output()}`);
  return { firstMs: result.first * 1000, lastMs: result.last * 1000, child };
}

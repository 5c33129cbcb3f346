/**
 * Runs the real `matchflow` CLI as a child process (node + tsx loader, one process, so a
 * SIGKILL hits the worker itself) and lets tests wait on what it logs, never on sleeps.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { expect } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");

export interface CliProcess {
  proc: ChildProcess;
  /** Every JSON log line so far (stdout), parsed. */
  logs: Record<string, unknown>[];
  stdout(): string;
  stderr(): string;
  /** Resolves with the first log line matching, rejects when the process exits first or on timeout. */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

/** `nodeArgs`: node's own flags before the script, e.g. the deployed heap flags (bench/lib/deployed.ts). */
/** Every CLI process a test started and that has not exited: killSpawned() ends them after each file. */
const running = new Set<ChildProcess>();

/**
 * SIGKILLs every CLI process still running (test/helpers/kill-spawned.ts calls it after each test
 * file): a test that fails before its own `kill` (a timeout) otherwise left its worker or
 * `schedule` process running after the run, orphaned.
 */
export async function killSpawned(): Promise<void> {
  const left = [...running];
  await Promise.all(left.map((proc) => new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once("exit", () => resolve());
    proc.kill("SIGKILL");
  })));
}

/** Registers a long-lived child process (a worker, a Celery worker) for killSpawned(). */
export function trackSpawned(proc: ChildProcess): void {
  running.add(proc);
  proc.once("exit", () => running.delete(proc));
}

export function spawnCli(args: string[], env: Record<string, string | undefined>, options: { input?: string; nodeArgs?: string[] } = {}): CliProcess {
  const proc = spawn(process.execPath, [...(options.nodeArgs ?? []), "--import", "tsx", path.join(ROOT, "src/cli/main.ts"), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: "info", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  trackSpawned(proc);
  let out = "";
  let err = "";
  let partial = "";
  const logs: Record<string, unknown>[] = [];
  const waiters: { predicate: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  proc.stdout?.on("data", (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    out += text;
    partial += text;
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.startsWith("{")) continue;
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        logs.push(parsed);
        for (const w of [...waiters]) {
          if (w.predicate(parsed)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(parsed);
          }
        }
      } catch {
        // not a log line
      }
    }
  });
  proc.stderr?.on("data", (chunk: Buffer) => (err += chunk.toString("utf8")));
  if (options.input !== undefined) proc.stdin?.end(options.input);
  else proc.stdin?.end();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));

  return {
    proc,
    logs,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill(signal = "SIGTERM") {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    },
    waitForLog(predicate, timeoutMs = 60_000) {
      const seen = logs.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for a log line; stderr: ${err.slice(-2000)}; last logs: ${JSON.stringify(logs.slice(-5))}`)), timeoutMs);
        const waiter = {
          predicate,
          resolve: (l: Record<string, unknown>) => {
            clearTimeout(timer);
            resolve(l);
          },
        };
        waiters.push(waiter);
        void exited.then(({ code, signal }) => {
          if (!waiters.includes(waiter)) return;
          clearTimeout(timer);
          reject(new Error(`process exited (code ${code}, signal ${signal}) before the log line; stderr: ${err.slice(-2000)}; last logs: ${JSON.stringify(logs.slice(-5))}`));
        });
      });
    },
  };
}

/** Runs a CLI command to completion. */
export async function runCli(args: string[], env: Record<string, string | undefined>, options: { input?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = spawnCli(args, env, options);
  const { code } = await p.exited;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** Polls `check` until it returns true (or throws after `timeoutMs`). For state in another process or service. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs = 60_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 20;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 1.5, 250);
  }
}

/**
 * `--file` naming a path that is missing, then one that is a directory (src/cli/files.ts): each
 * exits 2 with one line naming the option. `run` runs the command with `--file <path>`.
 */
export async function expectFileOptionRefused(run: (file: string) => Promise<{ code: number | null; stderr: string }>, dir: string): Promise<void> {
  const missing = path.join(dir, "nonexistent.json");
  const absent = await run(missing);
  expect(absent.stderr.trim()).toBe(`matchflow: --file ${missing}: no such file`);
  expect(absent.code).toBe(2);
  const directory = await run(dir);
  expect(directory.stderr.trim()).toBe(`matchflow: --file ${dir}: is a directory, not a file`);
  expect(directory.code).toBe(2);
}

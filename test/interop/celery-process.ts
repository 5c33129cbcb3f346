/**
 * Running the real Python Celery (Debian's python3-celery, under /usr/bin/python3) from tests:
 * a solo worker whose task writes what it received to an NDJSON file, and the producer script.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { trackSpawned } from "../helpers/cli.js";

/** What the Celery task saw: its arguments and the request context Celery built from the headers. */
export interface CeleryReceived {
  args: unknown[];
  kwargs: Record<string, unknown>;
  id: string;
  retries: number;
  root_id: string | null;
  parent_id: string | null;
  group: string | null;
  eta: string | null;
  expires: string | null;
  timelimit: [number | null, number | null] | null;
}

export const INTEROP_DIR = fileURLToPath(new URL(".", import.meta.url));
export const PYTHON = process.env.MATCHFLOW_CELERY_PYTHON ?? "/usr/bin/python3";

/** Celery writes the default vhost as "//"; ours are named, so the URL is used as it is. */
export interface CeleryWorker {
  child: ChildProcess;
  /** Everything the worker printed, for failure messages. */
  output(): string;
  /** The received tasks so far, one per line of the output file. */
  received(): CeleryReceived[];
  stop(): Promise<void>;
}

/**
 * `app`: the tasks' module (default the match task's stand-in); `queues`: what it consumes (`-Q`);
 * `mingle`: sync revoked tasks with the other workers at start-up, under the node name given (`-n`).
 */
export function startCeleryWorker(brokerUrl: string, outFile: string, options: { app?: string; queues?: string; mingle?: { nodeName: string } } = {}): CeleryWorker {
  const mingle = options.mingle ? ["-n", options.mingle.nodeName] : ["--without-mingle"];
  const child = spawn(
    PYTHON,
    ["-m", "celery", "-A", options.app ?? "celery_tasks.match_tasks", "worker", "-P", "solo", "-c", "1", "-Q", options.queues ?? "matches", "--without-gossip", ...mingle, "--without-heartbeat", "-l", "warning"],
    { cwd: INTEROP_DIR, env: { ...process.env, MATCHFLOW_INTEROP_BROKER: brokerUrl, MATCHFLOW_INTEROP_OUT: outFile, PYTHONDONTWRITEBYTECODE: "1" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  trackSpawned(child);
  let log = "";
  child.stdout?.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    output: () => log,
    received() {
      if (!existsSync(outFile)) return [];
      return readFileSync(outFile, "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as CeleryReceived);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Runs send_tasks.py; returns the task ids it printed. `extra`: v2-countdown's seconds, v2-compressed's method. */
export async function runCeleryProducer(brokerUrl: string, mode: "v1" | "v1-bytes" | "v2" | "v2-countdown" | "v2-compressed" | "v2-headers" | "v2-workflow" | "declare", matchesFile?: string, extra?: number | string): Promise<string[]> {
  const args = ["send_tasks.py", brokerUrl, mode, ...(matchesFile ? [matchesFile] : []), ...(extra === undefined ? [] : [String(extra)])];
  const { stdout } = await promisify(execFile)(PYTHON, args, { cwd: INTEROP_DIR, env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } });
  return stdout.split("\n").filter((l) => l.trim() !== "");
}

/** Runs a script of test/interop with Debian's Celery: its output lines; on failure its stderr (and `context()`, e.g. a worker's output). */
export function runInteropLines(script: string, args: string[], context?: () => string): Promise<string[]> {
  const child = spawn(PYTHON, [script, ...args], { cwd: INTEROP_DIR, env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } });
  trackSpawned(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) =>
    child.on("close", (code) => (code === 0 ? resolve(stdout.trim().split("\n")) : reject(new Error(`${script} exited ${code}: ${stderr}${context ? `\n${context()}` : ""}`)))),
  );
}

/** Runs a script of test/interop and parses the JSON of its last output line. */
export async function runInteropJson<T>(script: string, args: string[]): Promise<T> {
  const last = (await runInteropLines(script, args)).at(-1) ?? "";
  if (!last.startsWith("{")) throw new Error(`${script} printed no JSON last: ${JSON.stringify(last.slice(0, 200))}`);
  return JSON.parse(last) as T;
}

/** Polls a condition (no fixed sleeps in assertions): resolves when it holds, fails after `attempts`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, options: { attempts?: number; intervalMs?: number; details?: () => string } = {}): Promise<void> {
  const attempts = options.attempts ?? 1200;
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
  throw new Error(`timed out waiting for ${what}${options.details ? `\n${options.details()}` : ""}`);
}

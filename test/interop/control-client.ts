/** Runs control_client.py: Celery's remote control asked as `celery inspect` / `celery control` ask. */
import { spawn } from "node:child_process";
import { trackSpawned } from "../helpers/cli.js";
import { INTEROP_DIR, PYTHON } from "./celery-process.js";

/** Each command's replies, `{node: reply}`, or null when none came. */
export type ControlReplies = Record<string, Record<string, unknown> | null>;

/** `destination` "*": a broadcast to every worker. */
export function askWorkers(brokerUrl: string, destination: string, commands: string[]): Promise<ControlReplies> {
  return runInteropScript<ControlReplies>("control_client.py", [brokerUrl, destination, ...commands]);
}

/** Runs a script of test/interop with Debian's Celery and parses the JSON of its last output line. */
export function runInteropScript<T>(script: string, args: string[]): Promise<T> {
  const child = spawn(PYTHON, [script, ...args], { cwd: INTEROP_DIR, env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } });
  trackSpawned(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) =>
    child.on("close", (code) => {
      const last = stdout.trim().split("\n").pop() ?? "";
      if (code === 0 && last.startsWith("{")) resolve(JSON.parse(last) as T);
      else reject(new Error(`${script} exited ${code}: ${stderr}`));
    }),
  );
}

/** Runs events_monitor.py: Celery events read as Flower reads them (app.events.Receiver feeding app.events.State). */
import { spawn } from "node:child_process";
import { trackSpawned } from "../helpers/cli.js";
import { INTEROP_DIR, PYTHON } from "./celery-process.js";

export interface SeenEvents {
  done: boolean;
  workers: Record<string, { alive: boolean; sw_ident: string; sw_ver: string; freq: number; processed: number; pid: number; heartbeats: number }>;
  tasks: Record<string, { name: string | null; state: string; result: string | null; args: string | null; exception: string | null; runtime: number | null; worker: string | null; received: number | null; started: number | null }>;
}

/** Starts the monitor; `ready` once its queue is bound, `alive` once a worker is seen alive (offline mode), `seen` with what the State held at the end. */
export function watchEvents(brokerUrl: string, mode: "tasks" | "offline", seconds: number, taskIds: string[] = []): { ready: Promise<void>; alive: Promise<void>; seen: Promise<SeenEvents> } {
  const child = spawn(PYTHON, ["events_monitor.py", brokerUrl, mode, String(seconds), ...taskIds], { cwd: INTEROP_DIR, env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } });
  trackSpawned(child);
  let stdout = "";
  let stderr = "";
  let markReady: () => void = () => undefined;
  let markAlive: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const alive = new Promise<void>((resolve) => (markAlive = resolve));
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
    if (stdout.startsWith("ready\n")) markReady();
    if (stdout.startsWith("ready\nalive\n")) markAlive();
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const seen = new Promise<SeenEvents>((resolve, reject) =>
    child.on("close", (code) => {
      const last = stdout.trim().split("\n").pop() ?? "";
      if (code === 0 && last.startsWith("{")) resolve(JSON.parse(last) as SeenEvents);
      else reject(new Error(`events_monitor.py exited ${code}: ${stderr}`));
    }),
  );
  const orEnd = (p: Promise<void>) => Promise.race([p, seen.then(() => undefined)]);
  return { ready: orEnd(ready), alive: orEnd(alive), seen };
}

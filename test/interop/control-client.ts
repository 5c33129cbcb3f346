/** Runs control_client.py: Celery's remote control asked as `celery inspect` / `celery control` ask. */
import { runInteropJson } from "./celery-process.js";

/** Each command's replies, `{node: reply}`, or null when none came. */
export type ControlReplies = Record<string, Record<string, unknown> | null>;

/** `destination` "*": a broadcast to every worker. */
export function askWorkers(brokerUrl: string, destination: string, commands: string[]): Promise<ControlReplies> {
  return runInteropJson<ControlReplies>("control_client.py", [brokerUrl, destination, ...commands]);
}

/**
 * Runs the CLI as a child process with only PATH and HOME from this process plus `env`, so that
 * settings of the machine running the tests do not leak in (test/cli). Resolves with the exit
 * code and both streams; rejects only when the process could not be run at all.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** How long a CLI run may take: node + the tsx loader start in seconds on a loaded machine. */
export const SPAWN_TIMEOUT = 60_000;

export interface IsolatedCliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runIsolatedCli(args: string[], env: Record<string, string> = {}): Promise<IsolatedCliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "src/cli/main.ts", ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env }, timeout: SPAWN_TIMEOUT },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") return reject(new Error(`could not run the CLI: ${error.message}`, { cause: error }));
        resolve({ code: typeof error?.code === "number" ? error.code : 0, stdout, stderr });
      },
    );
  });
}

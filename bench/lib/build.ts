/** `npm run build` before a benchmark: it runs the compiled CLI (dist/), as production does. */
import { execFileSync } from "node:child_process";
import { ROOT } from "./matchflow.js";

export function buildDist(): void {
  if (process.env.BENCH_SKIP_BUILD === "1") return;
  process.stderr.write("building dist/ (npm run build; BENCH_SKIP_BUILD=1 skips) ...\n");
  execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "inherit" });
}

/** The machine's state, quoted next to every figure (2 cores shared with RabbitMQ and PostgreSQL). */
export async function machineNote(): Promise<{ cpus: number; loadAverage: number[]; node: string }> {
  const os = await import("node:os");
  return { cpus: os.cpus().length, loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100), node: process.version };
}

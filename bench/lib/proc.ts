/**
 * Child processes of a benchmark and what they cost: peak RSS (VmHWM) and CPU seconds
 * (utime + stime) read from /proc, summed over the process tree (a Celery prefork worker is a
 * parent and its pool children). A sampler polls while the process lives, because /proc is
 * gone after exit; the last sample before exit may miss the final ~100 ms of CPU.
 */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";

const CLOCK_TICKS = 100; // getconf CLK_TCK on Linux

export interface ProcessCost {
  /** Peak resident set of the largest process of the tree, MB (VmHWM). */
  peakRssMb: number;
  /** Sum of the tree's peak RSS, MB (a prefork pool is several processes). */
  treePeakRssMb: number;
  /** utime + stime of every process of the tree, seconds. */
  cpuSeconds: number;
  processes: number;
}

function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // exited meanwhile
  }
  return out;
}

function tree(pid: number): number[] {
  const all = [pid];
  for (let i = 0; i < all.length; i++) all.push(...children(all[i]!));
  return all;
}

function readOne(pid: number): { hwmKb: number; cpuTicks: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const hwmKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may contain spaces) start at state (field 3).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cpuTicks = Number(fields[11]) + Number(fields[12]); // utime (14), stime (15)
    return { hwmKb, cpuTicks };
  } catch {
    return undefined;
  }
}

/** Samples a process tree every `intervalMs`; `stop()` takes a last sample and returns the maxima. */
export class CostSampler {
  private readonly perPid = new Map<number, { hwmKb: number; cpuTicks: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number, intervalMs = 100) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  sample(): void {
    for (const pid of tree(this.pid)) {
      const now = readOne(pid);
      if (!now) continue;
      const before = this.perPid.get(pid);
      this.perPid.set(pid, { hwmKb: Math.max(now.hwmKb, before?.hwmKb ?? 0), cpuTicks: Math.max(now.cpuTicks, before?.cpuTicks ?? 0) });
    }
  }

  stop(): ProcessCost {
    this.sample();
    clearInterval(this.timer);
    const values = [...this.perPid.values()];
    return {
      peakRssMb: Math.max(0, ...values.map((v) => v.hwmKb)) / 1024,
      treePeakRssMb: values.reduce((s, v) => s + v.hwmKb, 0) / 1024,
      cpuSeconds: values.reduce((s, v) => s + v.cpuTicks, 0) / CLOCK_TICKS,
      processes: values.length,
    };
  }
}

/** This process's own cost (the benchmark's in-process publisher/consumer), from getrusage. */
export function selfCost(): { peakRssMb: number; cpuSeconds: number } {
  const u = process.resourceUsage();
  return { peakRssMb: u.maxRSS / 1024, cpuSeconds: (u.userCPUTime + u.systemCPUTime) / 1e6 };
}

export interface Child {
  child: ChildProcess;
  sampler: CostSampler;
  output(): string;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<number | string>;
  /** Lines of stdout as they come (the worker's JSON logs). */
  onLine(fn: (line: string) => void): void;
}

export function startChild(command: string, args: string[], options: SpawnOptions): Child {
  const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid === undefined) throw new Error(`cannot start ${command}`);
  const sampler = new CostSampler(child.pid);
  let tail = "";
  const keep = (d: Buffer) => {
    tail = (tail + d.toString()).slice(-20_000);
  };
  child.stderr?.on("data", keep);
  const listeners: ((line: string) => void)[] = [];
  let partial = "";
  child.stdout?.on("data", (d: Buffer) => {
    const text = partial + d.toString();
    const lines = text.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (listeners.length === 0) tail = (tail + line + "\n").slice(-20_000);
      for (const fn of listeners) fn(line);
    }
  });
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
  return { child, sampler, output: () => tail, exited, onLine: (fn) => listeners.push(fn) };
}

/** Several processes doing one job (e.g. worker replicas) as one: peak RSS of the largest, sums of the rest. */
export function combinedCost(costs: ProcessCost[]): ProcessCost {
  return {
    peakRssMb: Math.max(0, ...costs.map((c) => c.peakRssMb)),
    treePeakRssMb: costs.reduce((sum, c) => sum + c.treePeakRssMb, 0),
    cpuSeconds: costs.reduce((sum, c) => sum + c.cpuSeconds, 0),
    processes: costs.reduce((sum, c) => sum + c.processes, 0),
  };
}

/** Stops a child: SIGTERM, then SIGKILL after `graceMs`; returns its cost sampled before the signal. */
export async function stopChild(c: Child, graceMs = 30_000): Promise<ProcessCost> {
  const cost = c.sampler.stop();
  if (c.child.exitCode === null && c.child.signalCode === null) {
    c.child.kill("SIGTERM");
    const timer = setTimeout(() => c.child.kill("SIGKILL"), graceMs);
    await c.exited;
    clearTimeout(timer);
  }
  return cost;
}

/** Polls a condition until it holds; throws after `timeoutMs` with `details()`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number, details?: () => string, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${details ? `\n${details()}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** CPU ticks of every process of a tree right now, by pid. */
function treeTicks(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const p of tree(pid)) {
    const one = readOne(p);
    if (one) out.set(p, one.cpuTicks);
  }
  return out;
}

/** The pid of a local process by its command name (e.g. "beam.smp"), the oldest one, if any. */
export function findProcess(comm: string): number | undefined {
  const pids = readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number).sort((a, b) => a - b);
  for (const pid of pids) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() === comm) return pid;
    } catch {
      // gone
    }
  }
  return undefined;
}

/** The parent pid of a process (a PostgreSQL backend's parent is the postmaster). */
export function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds a service's process tree spent between `start()` and the returned function's call
 * (processes that exit in between are not counted). Local services only; it counts the whole
 * service, including work for other clients.
 */
export function cpuDelta(pid: number): () => number {
  const before = treeTicks(pid);
  return () => {
    let ticks = 0;
    for (const [p, t] of treeTicks(pid)) ticks += t - (before.get(p) ?? 0);
    return ticks / CLOCK_TICKS;
  };
}

/** Busy and total CPU seconds of the whole machine since the call (from /proc/stat). */
export function machineCpuDelta(): () => { busy: number; total: number } {
  const read = () => {
    const f = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  };
  const a = read();
  return () => {
    const b = read();
    return { busy: (b.busy - a.busy) / CLOCK_TICKS, total: (b.total - a.total) / CLOCK_TICKS };
  };
}

/** CPU seconds of the local PostgreSQL and RabbitMQ (absent when they run elsewhere) and of the machine. */
export interface ServiceCpu {
  postgresCpuSeconds?: number;
  rabbitmqCpuSeconds?: number;
  machineBusySeconds: number;
  machineTotalSeconds: number;
}

/** Starts counting the services' CPU (PostgreSQL found through a backend of `pool`); call the result to read. */
export async function serviceCpuCounters(pool: { query<R>(sql: string): Promise<{ rows: R[] }> }): Promise<() => ServiceCpu> {
  const backend = Number((await pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid);
  const postmaster = parentOf(backend);
  const beam = findProcess("beam.smp");
  const pg = postmaster === undefined ? undefined : cpuDelta(postmaster);
  const rabbit = beam === undefined ? undefined : cpuDelta(beam);
  const machine = machineCpuDelta();
  return () => {
    const m = machine();
    return { postgresCpuSeconds: pg?.(), rabbitmqCpuSeconds: rabbit?.(), machineBusySeconds: m.busy, machineTotalSeconds: m.total };
  };
}

/** "RabbitMQ 95 us, PostgreSQL 41 us a match; machine 97% busy" for a note. */
export function serviceCpuNote(cpu: ServiceCpu, matches: number): string {
  const us = (s: number | undefined) => (s === undefined ? "n/a" : `${((s * 1e6) / matches).toFixed(0)} us`);
  const busy = (100 * cpu.machineBusySeconds) / Math.max(1e-9, cpu.machineTotalSeconds);
  return `services from producer start to last commit: RabbitMQ ${us(cpu.rabbitmqCpuSeconds)}, PostgreSQL ${us(cpu.postgresCpuSeconds)} of CPU a match; machine ${busy.toFixed(0)}% busy`;
}

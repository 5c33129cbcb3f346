/**
 * The real `matchflow` CLI as a child process (tsx, no build): help, usage errors, `config`
 * and `contract schema`. Only commands that need no broker or database.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { Command } from "commander";
import { workerConfigWithFlags } from "../../src/cli/commands/worker.js";
import { parseIntOption } from "../../src/cli/options.js";
import { buildProgram } from "../../src/cli/main.js";
import { loadConfig } from "../../src/config.js";
import { runIsolatedCli as runCli, SPAWN_TIMEOUT } from "../helpers/cli-isolated.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** Runs the CLI with its stdout closed before it writes (`| head -0`): its exit code and stderr. */
function runCliStdoutClosed(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.destroy();
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stderr })));
}

// Concurrent: each test only spawns a process and reads its output.
describe("matchflow CLI", { timeout: SPAWN_TIMEOUT, concurrent: true }, () => {
  it("--help lists the commands and exits 0, even with a broken environment", async () => {
    const { code, stdout } = await runCli(["--help"], { METRICS_PORT: "not-a-port" });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: matchflow/);
    expect(stdout).toMatch(/\bconfig\b/);
    expect(stdout).toMatch(/\bcontract\b/);
  });

  it("an unknown command exits 2 with a clear message", async () => {
    const { code, stdout, stderr } = await runCli(["frobnicate"]);
    expect(code).toBe(2);
    expect(stderr).toContain("unknown command 'frobnicate'");
    expect(stderr).toContain("--help");
    expect(stdout).toBe("");
  });

  it("dlq show / requeue with an empty task id exit 2 before any broker is asked (RABBITMQ_URL points nowhere)", async () => {
    for (const args of [["dlq", "show", ""], ["dlq", "requeue", "t-1", " "]]) {
      const { code, stderr } = await runCli(args, { RABBITMQ_URL: "amqp://guest:guest@127.0.0.1:1/" });
      expect(code).toBe(2);
      expect(stderr).toContain("a task id is empty (dlq list shows them)");
    }
  });

  it("no command (or a command group without its subcommand) shows help and exits 2; `help` exits 0", async () => {
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stdout + none.stderr).toContain("Usage: matchflow");
    expect((await runCli(["dlq"])).code).toBe(2);
    const help = await runCli(["help", "worker"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: matchflow worker");
    // The defaults it names are the config module's, not copies that drift.
    const defaults = loadConfig({});
    const flat = help.stdout.replace(/\s+/g, " ");
    expect(flat).toContain(`WORKER_BATCH_SIZE or ${defaults.worker.batchSize})`);
    expect(flat).toContain(`WORKER_CONCURRENCY or ${defaults.worker.concurrency})`);
    expect(flat).toContain(`METRICS_PORT or ${defaults.metricsPort};`);
  });

  it("worker flags derive the prefetch as the environment does, within AMQP's 16-bit limit", () => {
    const config = loadConfig({});
    expect(workerConfigWithFlags(config, { concurrency: 2 }).worker.prefetch).toBe(2 * config.worker.batchSize);
    expect(workerConfigWithFlags(config, { concurrency: 256, batchSize: 5000 }).worker.prefetch).toBe(65535);
    expect(workerConfigWithFlags(config, { concurrency: 256, batchSize: 5000, prefetch: 10 }).worker.prefetch).toBe(10);
  });

  it("-Q and MATCHES_QUEUE bring their own routing key unless MATCHES_ROUTING_KEY names one (a renamed queue bound with the shared key got a copy of every match)", () => {
    expect(loadConfig({}).topology).toMatchObject({ queue: "matches", routingKey: "matches.process" });
    expect(loadConfig({ MATCHES_QUEUE: "matches.academy" }).topology).toMatchObject({ queue: "matches.academy", routingKey: "matches.academy.process" });
    expect(loadConfig({ MATCHES_QUEUE: "q", MATCHES_ROUTING_KEY: " shared " }).topology.routingKey).toBe("shared");
    expect(workerConfigWithFlags(loadConfig({}), { queues: "typoq2" }).topology).toMatchObject({ queue: "typoq2", routingKey: "typoq2.process" });
    expect(workerConfigWithFlags(loadConfig({ MATCHES_QUEUE: "a" }), { queues: "b" }).topology).toMatchObject({ queue: "b", routingKey: "b.process" });
    expect(workerConfigWithFlags(loadConfig({ MATCHES_ROUTING_KEY: "k" }), { queues: "b" }).topology).toMatchObject({ queue: "b", routingKey: "k" });
  });

  it("worker flags leave a prefetch WORKER_PREFETCH set (a memory bound): -c 2 took it from 100 to 800", () => {
    const config = loadConfig({ WORKER_PREFETCH: "100" });
    expect(workerConfigWithFlags(config, { concurrency: 2 }).worker.prefetch).toBe(100);
    expect(workerConfigWithFlags(config, { batchSize: 50 }).worker.prefetch).toBe(100);
    expect(workerConfigWithFlags(config, { concurrency: 2, prefetch: 300 }).worker.prefetch).toBe(300);
  });

  it.each(["1e2", "0x10", "4.0", "", " ", "2.5", "-1", "9007199254740993"])("a whole-number flag refuses %j (exit 2)", (value) => {
    expect(() => parseIntOption("--concurrency", 1, 256)(value)).toThrow(/--concurrency must be a whole number from 1 to 256/);
  });

  it("a whole-number flag takes digits, surrounding blanks aside", () => {
    expect(parseIntOption("--concurrency", 1, 256)(" 16 ")).toBe(16);
    expect(parseIntOption("--start", -9999, 9999)("-7")).toBe(-7);
  });

  it("worker: a metrics port already in use exits 2 naming the port and the setting, no stack trace (was 70, Node's raw EADDRINUSE)", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "0.0.0.0", resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      // The HTTP server starts before any connection: the services' URLs are never used.
      const { code, stdout, stderr } = await runCli(["worker", "--metrics-port", String(port)], {
        RABBITMQ_URL: "amqp://guest:guest@127.0.0.1:1/",
        DATABASE_URL: "postgres://postgres@127.0.0.1:1/none",
      });
      expect(stdout).toBe("");
      expect(stderr).toBe(`matchflow: cannot serve /metrics, /healthz, /readyz on port ${port}: the port is already in use (another worker on this host?); choose another with METRICS_PORT or --metrics-port (0 = any free port)\n`);
      expect(code).toBe(2);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it.each([["publish"], ["process"]])("%s --file with an empty name (a variable left unset) exits 2 instead of reading stdin", async (command) => {
    // Refused before any connection: the services' URLs are never used.
    const { code, stdout, stderr } = await runCli([command, "--file", ""], { RABBITMQ_URL: "amqp://guest:guest@127.0.0.1:1/", DATABASE_URL: "postgres://postgres@127.0.0.1:1/none" });
    expect({ code, stdout, stderr }).toEqual({ code: 2, stdout: "", stderr: "matchflow: --file was given an empty file name (leave --file out to read stdin)\n" });
  });

  it("an unknown flag exits 2 with a clear message", async () => {
    const { code, stderr } = await runCli(["config", "--frobnicate"]);
    expect(code).toBe(2);
    expect(stderr).toContain("unknown option '--frobnicate'");
  });

  it("config prints the effective configuration as JSON without passwords", async () => {
    const { code, stdout, stderr } = await runCli(["config"], {
      RABBITMQ_URL: "amqp://mf:broker-hunter2@127.0.0.1:5672/prod",
      DATABASE_URL: "postgres://mf:db-hunter2@127.0.0.1:5432/matchflow",
      CELERY_WORKER_CONCURRENCY: "6",
    });
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).not.toContain("hunter2");
    const printed = JSON.parse(stdout) as { rabbitmqUrl: string; databaseUrl: string; worker: { concurrency: number }; topology: { queue: string } };
    expect(printed.rabbitmqUrl).toBe("amqp://mf:***@127.0.0.1:5672/prod");
    expect(printed.databaseUrl).toBe("postgres://mf:***@127.0.0.1:5432/matchflow");
    expect(printed.worker.concurrency).toBe(6);
    expect(printed.topology.queue).toBe("matches");
    // Optional settings left unset are listed too, as null.
    const all = JSON.parse(stdout) as { rabbitmqManagementUrl: unknown; topology: Record<string, unknown>; scrape: Record<string, unknown> };
    expect(all.rabbitmqManagementUrl).toBeNull();
    expect(all.topology).toHaveProperty("fanoutExchange", null);
    expect(all.scrape).toMatchObject({ ageGroup: null, division: null });
  });

  it("a bad environment exits 2 with one readable error and no stack trace", async () => {
    const { code, stdout, stderr } = await runCli(["config"], {
      METRICS_PORT: "abc",
      LOG_LEVEL: "loud",
      DATABASE_URL: "mysql://root:hunter2@db/x",
    });
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toMatch(/^matchflow: invalid configuration:\n/);
    expect(stderr).toContain('METRICS_PORT "abc" must be a whole number');
    expect(stderr).toContain('LOG_LEVEL "loud" must be fatal, error, warn, info, debug, trace or silent');
    expect(stderr).toContain("DATABASE_URL must start with postgres://");
    expect(stderr).not.toContain("hunter2");
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(stderr.trim().split("\n")).toHaveLength(4);
  });

  it.each([[["contract", "schema"]], [["config"]], [["--help"]]])("%j with its reader gone (| head) ends quietly: exit 0, no stack trace", async (args) => {
    const { code, stderr } = await runCliStdoutClosed(args);
    expect(stderr).toBe("");
    expect(code).toBe(0);
  });

  it("contract schema prints exactly the committed schema file", async () => {
    const { code, stdout } = await runCli(["contract", "schema"]);
    expect(code).toBe(0);
    expect(stdout === readFileSync(`${root}/schema/match-data.v1.json`, "utf8"), "output differs from schema/match-data.v1.json").toBe(true);
  });
});

describe("README's CLI section", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const section = readme.split(/^## CLI$/m)[1]?.split(/^## /m)[0] ?? "";
  const rows = section.split("\n").filter((l) => l.startsWith("| `"));
  const selectionFlags = section.split("Selection flags")[1]?.split("\n\n")[0] ?? "";
  const SELECTING = ["run", "schedule", "scrape"];

  it("names every flag of every command, in the command's row (or the selection flags shared by run, schedule and scrape)", async () => {
    const program = await buildProgram(["node", "matchflow"]);
    const missing: string[] = [];
    const walk = (cmd: Command, path: string[]): void => {
      for (const sub of cmd.commands) {
        const name = [...path, sub.name()];
        if (sub.commands.length > 0) {
          walk(sub, name);
          continue;
        }
        // The row whose first cell shows the command (`dlq list [...]`, `dlq show <task-id>` share one).
        const row = rows.map((r) => r.split(" | ")[0] ?? "").find((cell) => new RegExp(`\`${name.join(" ")}[\` ]`).test(cell)) ?? "";
        expect(row, name.join(" ")).not.toBe("");
        for (const o of sub.options) {
          if (o.long === "--help" || o.hidden) continue; // hidden: kept only to refuse it with a reason
          const flags = [o.long, o.short].filter((f): f is string => f !== undefined);
          const shared = SELECTING.includes(name[0] ?? "") && flags.some((f) => selectionFlags.includes(`\`${f}\``));
          if (!shared && !flags.some((f) => new RegExp(`${f}(?![\\w-])`).test(row))) missing.push(`${name.join(" ")} ${o.long ?? o.short ?? ""}`);
        }
      }
    };
    walk(program, []);
    expect(missing).toEqual([]);
  });
});

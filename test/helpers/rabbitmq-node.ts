/**
 * A RabbitMQ node of its own, beside the machine's broker, started from configuration files the
 * test writes (the deploy tree's, with paths and ports of its own): to try a broker
 * configuration for real without touching the shared broker. Needs Debian's rabbitmq-server
 * (its scripts under /usr/lib/rabbitmq/bin, run as the current user) and the Erlang cookie the
 * machine's CLI tools use ($HOME/.erlang.cookie). Boots in ~5 s here; `stop()` ends it.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { until } from "./cli.js";

const RABBITMQ_BIN = process.env.TEST_RABBITMQ_BIN ?? "/usr/lib/rabbitmq/bin";
const run = promisify(execFile);

export interface RabbitNode {
  name: string;
  /** `rabbitmq-diagnostics <args> -n <node>`'s stdout. */
  diagnostics(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** A port free now (the kernel's choice), for a listener the node opens soon after. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts a node whose conf.d holds `confFiles` (name -> text, read in name order) and whose
 * enabled plugins are `plugins`, all under `dir`; resolves once it accepts clients.
 */
export async function startRabbitNode(dir: string, confFiles: Record<string, string>, plugins: string[]): Promise<RabbitNode> {
  const name = `mftest${process.pid}@localhost`;
  const confDir = join(dir, "conf.d");
  mkdirSync(confDir, { recursive: true });
  for (const [file, text] of Object.entries(confFiles)) writeFileSync(join(confDir, file), text);
  writeFileSync(join(dir, "enabled_plugins"), `[${plugins.join(",")}].\n`);
  const env = {
    ...process.env,
    RABBITMQ_NODENAME: name,
    RABBITMQ_CONFIG_FILES: confDir,
    RABBITMQ_MNESIA_BASE: join(dir, "mnesia"),
    RABBITMQ_LOG_BASE: join(dir, "log"),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, "enabled_plugins"),
    RABBITMQ_PID_FILE: join(dir, "node.pid"),
    RABBITMQ_DIST_PORT: String(await freePort()),
  };
  const server: ChildProcess = spawn(join(RABBITMQ_BIN, "rabbitmq-server"), [], { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  server.stdout?.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  server.stderr?.on("data", (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000)));
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => server.once("exit", (code) => ((exitCode = code), resolve())));
  const ctl = (tool: string, ...args: string[]) => run(join(RABBITMQ_BIN, tool), ["-n", name, ...args], { env, timeout: 120_000 });
  try {
    // await_startup waits while the node boots, but fails at once before the node has registered
    // its name: asked again until it answers, unless the node exited (a bad setting, a port taken).
    await until(async () => {
      if (exitCode !== undefined) throw new Error(`it exited (${exitCode})`);
      return ctl("rabbitmqctl", "await_startup", "--timeout", "60").then(() => true, () => false);
    }, 120_000, `RabbitMQ node ${name} to start`);
  } catch (err) {
    server.kill("SIGKILL");
    throw new Error(`RabbitMQ node ${name} did not start: ${(err as Error).message}\n${output.slice(-4000)}`, { cause: err });
  }
  return {
    name,
    diagnostics: async (...args) => (await ctl("rabbitmq-diagnostics", ...args)).stdout,
    stop: async () => {
      await ctl("rabbitmqctl", "stop").catch(() => server.kill("SIGKILL"));
      await exited;
    },
  };
}

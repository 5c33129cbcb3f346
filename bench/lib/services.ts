/**
 * Isolated services for one benchmark run: a RabbitMQ vhost and a PostgreSQL database each,
 * created from scratch and registered for cleanup, so a failed or interrupted run leaves
 * nothing behind (`cleanupAll()` runs in `finally` and on SIGINT/SIGTERM).
 */
import { readFileSync } from "node:fs";
import pg from "pg";
import { migrate } from "../../src/db/migrate.js";
import { openDatabase } from "../../src/db/open.js";
import { createVhost, managementApi, type TestVhost } from "../../test/helpers/rabbit.js";
import { PG_ADMIN_URL, pgUrlFor, uniqueName } from "../../test/helpers/services.js";
import { FLAT_TABLE_SQL } from "./flat-table.js";

const cleanups: (() => Promise<void>)[] = [];

export async function cleanupAll(): Promise<void> {
  while (cleanups.length > 0) {
    const step = cleanups.pop();
    try {
      await step?.();
    } catch (err) {
      console.error(`cleanup failed: ${String(err)}`);
    }
  }
}

/** Cleans up on Ctrl-C / SIGTERM too, then exits 130. */
export function cleanupOnSignals(): void {
  const handler = () => {
    void cleanupAll().finally(() => process.exit(130));
  };
  process.once("SIGINT", handler);
  process.once("SIGTERM", handler);
}

export function registerCleanup(step: () => Promise<void>): void {
  cleanups.push(step);
}

interface DeployedPolicy {
  name: string;
  pattern: string;
  "apply-to": string;
  priority: number;
  definition: Record<string, unknown>;
}

/** The broker's policies as deployed (deploy/k8s/base/rabbitmq/definitions.json), e.g. classic queue storage v2 for `matches`. */
const DEPLOYED_POLICIES = (
  JSON.parse(readFileSync(new URL("../../deploy/k8s/base/rabbitmq/definitions.json", import.meta.url), "utf8")) as { policies: DeployedPolicy[] }
).policies;

/** The deployment's policy for the work queue `matches` (queue storage v2, dead-lettering). */
const WORK_QUEUE_POLICY = "matches-work-queue";

async function putPolicy(vhost: TestVhost, name: string, body: Omit<DeployedPolicy, "name" | "vhost">): Promise<void> {
  const res = await managementApi("PUT", `/policies/${encodeURIComponent(vhost.name)}/${encodeURIComponent(name)}`, body);
  if (!res.ok) throw new Error(`cannot set policy ${name} on ${vhost.name}: HTTP ${res.status} ${await res.text()}`);
}

/**
 * A fresh vhost with the deployment's policies, so every consumer (matchflow, Celery, raw) meets
 * the broker as deployed. `otherWorkQueues` (e.g. one per league) get the work queue's policy too,
 * each with its own dead-letter exchange, as docs/operations.md tells an operator to add them.
 */
export async function benchVhost(prefix: string, otherWorkQueues: string[] = []): Promise<TestVhost> {
  const vhost = await createVhost(prefix);
  registerCleanup(() => vhost.drop());
  for (const p of DEPLOYED_POLICIES) {
    const body = { pattern: p.pattern, "apply-to": p["apply-to"], priority: p.priority, definition: p.definition };
    await putPolicy(vhost, p.name, body);
    if (p.name !== WORK_QUEUE_POLICY) continue;
    for (const queue of otherWorkQueues) {
      const definition = { ...p.definition, "dead-letter-exchange": `${queue}.dlx`, "dead-letter-routing-key": queue };
      await putPolicy(vhost, `${p.name}-${queue}`, { ...body, pattern: `^${queue.replace(/\./g, "\\.")}$`, definition });
    }
  }
  return vhost;
}

export interface BenchDatabase {
  name: string;
  url: string;
  /** A small pool for the benchmark's own checks and polling. */
  pool: pg.Pool;
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A fresh database with matchflow's migrations and the flat baseline table. */
export async function benchDatabase(prefix: string): Promise<BenchDatabase> {
  const name = uniqueName(prefix);
  await admin(`CREATE DATABASE ${name}`);
  registerCleanup(() => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  const url = pgUrlFor(name);
  const db = await openDatabase(url, { poolSize: 1 });
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: "matchflow-bench" });
  registerCleanup(() => pool.end());
  await pool.query(FLAT_TABLE_SQL);
  return { name, url, pool };
}

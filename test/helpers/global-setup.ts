/**
 * Runs once per `vitest run` for the service-backed projects: fails loudly when PostgreSQL or
 * RabbitMQ cannot be reached, and migrates a template database that test files copy.
 */
import net from "node:net";
import type { TestProject } from "vitest/node";
import { adminQuery } from "./pg.js";
import { PG_ADMIN_URL, pgUrlFor, RABBIT_API, uniqueName } from "./services.js";

declare module "vitest" {
  export interface ProvidedContext {
    templateDb: string;
  }
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port, timeout: 3000 });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const pgUrl = new URL(PG_ADMIN_URL);
  const api = new URL(RABBIT_API);
  const checks: [string, string, number][] = [
    ["PostgreSQL", pgUrl.hostname, Number(pgUrl.port || 5432)],
    ["RabbitMQ (AMQP)", "127.0.0.1", 5672],
    ["RabbitMQ management API", api.hostname, Number(api.port || 15672)],
  ];
  for (const [what, host, port] of checks) {
    if (!(await reachable(host, port))) throw new Error(`${what} is not reachable at ${host}:${port}: start it (see .ci/run)`);
  }

  const template = uniqueName("mf_template");
  await adminQuery(`CREATE DATABASE ${template}`);
  const { openDatabase } = await import("../../src/db/open.js");
  const { migrate } = await import("../../src/db/migrate.js");
  const db = await openDatabase(pgUrlFor(template));
  try {
    await migrate(db);
  } finally {
    await db.close();
  }
  project.provide("templateDb", template);
  return async () => {
    await adminQuery(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
  };
}

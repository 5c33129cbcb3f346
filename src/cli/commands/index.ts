/**
 * Every CLI command, one module each, by name. Add a command here (one line) to expose it.
 * Modules load when needed (see `buildProgram`): a `matchflow scrape` process then never loads
 * the database drivers, the worker's metrics or the scheduler (~12 MB of its memory).
 */
import type { Command } from "commander";

type Register = (program: Command) => void;

export const COMMANDS: Record<string, () => Promise<Register>> = {
  config: () => import("./config.js").then((m) => m.registerConfig),
  contract: () => import("./contract.js").then((m) => m.registerContract),
  dlq: () => import("./dlq.js").then((m) => m.registerDlq),
  migrate: () => import("./migrate.js").then((m) => m.registerMigrate),
  process: () => import("./process.js").then((m) => m.registerProcess),
  publish: () => import("./publish.js").then((m) => m.registerPublish),
  queue: () => import("./queue.js").then((m) => m.registerQueue),
  scrape: () => import("./scrape.js").then((m) => m.registerScrape),
  worker: () => import("./worker.js").then((m) => m.registerWorker),
  run: () => import("./run.js").then((m) => m.registerRun),
  workers: () => import("./workers.js").then((m) => m.registerWorkers),
  revoke: () => import("./workers.js").then((m) => m.registerRevoke),
  schedule: () => import("./schedule.js").then((m) => m.registerSchedule),
};

/** Every CLI command, one module each. Add a command here (one line) to expose it. */
import type { Command } from "commander";
import { registerConfig } from "./config.js";
import { registerContract } from "./contract.js";
import { registerDlq } from "./dlq.js";
import { registerMigrate } from "./migrate.js";
import { registerProcess } from "./process.js";
import { registerPublish } from "./publish.js";
import { registerQueue } from "./queue.js";
import { registerScrape } from "./scrape.js";
import { registerRun } from "./run.js";
import { registerSchedule } from "./schedule.js";
import { registerWorker } from "./worker.js";

export const COMMANDS: ((program: Command) => void)[] = [
  registerConfig,
  registerContract,
  registerDlq,
  registerMigrate,
  registerProcess,
  registerPublish,
  registerQueue,
  registerScrape,
  registerWorker,
  registerRun,
  registerSchedule,
];

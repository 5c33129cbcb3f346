/**
 * Setup file of the integration and serial projects: after each test file, every CLI or Celery
 * process its tests started and did not stop is killed. A test that times out before its own
 * `kill` left a `schedule` process running for an hour once (found after the run, orphaned).
 */
import { afterAll } from "vitest";
import { killSpawned } from "./cli.js";

afterAll(killSpawned);

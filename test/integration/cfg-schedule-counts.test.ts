/**
 * `matchflow schedule` logs one line of figures per run: they add up as `scrape` and `run` say
 * them (found = submitted + invalid + failed), with the matches the contract refused counted
 * as invalid. It logged the publisher's refusals only: "found 70, submitted 68, invalid 0".
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnCli } from "../helpers/cli.js";
import { createVhost, type TestVhost } from "../helpers/rabbit.js";

let dir: string;
let feeds: string;
let vhost: TestVhost;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "mf-cfg-schedule-"));
  // The recorded sample with two matches the contract refuses (a score over 999, a team playing itself).
  feeds = path.join(dir, "feeds");
  cpSync("samples/mlsnext", feeds, { recursive: true });
  const file = path.join(feeds, "data/schedule/mls-next-league-26-27.json");
  const doc = JSON.parse(readFileSync(file, "utf8")) as { events: Record<string, unknown>[] };
  const [first, , third] = doc.events;
  if (!first || !third) throw new Error("the sample has fewer events than expected");
  first.home_score = 5000;
  third.home_organisation = third.away_organisation;
  writeFileSync(file, JSON.stringify(doc));
  vhost = await createVhost("cfgsched");
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await vhost?.drop();
});

/** The figures of the first run's line (`msg`), once the run is over; the schedule is then stopped. */
async function firstRunFigures(env: Record<string, string | undefined>, msg: string): Promise<Record<string, unknown>> {
  const p = spawnCli(["schedule", "--cron", "0 6 * * *", "--run-now", "--source-dir", feeds, "--season", "2026"], env);
  try {
    const line = await p.waitForLog((l) => l.msg === msg, 90_000);
    const done = await p.waitForLog((l) => l.msg === "scheduled run finished with problems", 30_000);
    expect(done.exitCode).toBe(1);
    return line;
  } finally {
    p.kill("SIGTERM");
    await p.exited;
  }
}

describe("schedule's figures per run", () => {
  it("publishing (RABBITMQ_URL set): the contract's refusals are invalid, and found = submitted + invalid + failed", async () => {
    const line = await firstRunFigures({ RABBITMQ_URL: vhost.url }, "scrape published");
    expect(line).toMatchObject({ found: 70, submitted: 68, invalid: 2, failed: 0, malformed: 0 });
  });

  it("in-process (no RABBITMQ_URL): the run report has the invalid and failed ones too, as `run` prints them", async () => {
    const line = await firstRunFigures({ RABBITMQ_URL: undefined, DATABASE_URL: "pglite://memory" }, "run report");
    expect(line).toMatchObject({ found: 70, submitted: 68, invalid: 2, failed: 0, malformed: 0, created: 68, dead_lettered: 0, pending: 0 });
  });
});

/**
 * A corrected match published again with the same scraped_at (an edited --save file, say) wins
 * over the first publish, however the worker meets the two: matchflow's task ids are ordered by
 * time (celery/task-id.ts) and the upsert keeps the greater one at an equal instant.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, until } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

let t: WorkerEnv;
beforeAll(async () => {
  t = await createWorkerEnv("same-instant");
});
afterAll(async () => {
  await t?.teardown();
});

describe("the same scraped_at published twice", () => {
  it("the later publish is the row, whether both wait in one batch or the worker takes them one by one", async () => {
    const at = "2026-10-30T06:00:00Z";
    const publish = async (i: number, score: number) => {
      const r = await runCli(["publish"], t.env(), { input: JSON.stringify(makeMatch("same", i, { home_score: score, away_score: 0, scraped_at: at })) });
      expect(r.stdout).toBe("1 submitted, 0 invalid, 0 failed\n");
    };
    const homeScore = async (i: number) => (await t.sql.query<{ home_score: number }>("SELECT home_score FROM matches WHERE external_match_id = $1", [`same-${i}`])).rows[0]?.home_score;
    // Both queued before the worker starts: one batch.
    await publish(1, 5);
    await publish(1, 2);
    const w = await t.startWorker();
    await until(async () => (await homeScore(1)) === 2, 30_000, "the corrected score");
    // One at a time: the first stored, then the correction.
    for (const score of [7, 3, 4]) {
      await publish(2, score);
      await until(async () => (await homeScore(2)) === score, 30_000, `score ${score}`);
    }
    await until(async () => (await t.ready()) === 0, 30_000, "the queue drained");
    expect(await homeScore(1)).toBe(2);
    await t.stopWorker(w);
  });
});

/**
 * MatchQueueClient.submitMatches over a sink that confirms when the test says so: input taken
 * from arrays, generators and async iterables one match at a time, never more than the confirm
 * window in flight, the counts-only report, and a failing input (RabbitMQ side:
 * test/integration/broker-publisher.test.ts).
 */
import { describe, expect, it } from "vitest";
import { clientOptionsFrom, MatchQueueClient } from "../../src/broker/publisher.js";
import type { TaskSink } from "../../src/broker/task-sink.js";
import { loadConfig } from "../../src/config.js";
import { silentLogger } from "../../src/log.js";

const WINDOW = 5;
const config = loadConfig({ PUBLISH_CONFIRM_WINDOW: String(WINDOW) });

function match(i: number): Record<string, unknown> {
  return { home_team: `Home ${i}`, away_team: `Away ${i}`, match_date: "2025-09-06", age_group: "U14", match_type: "League", external_match_id: `m-${i}` };
}

/** Holds every publish until `confirmAll()`; records the most held at once. */
function heldSink() {
  const held: (() => void)[] = [];
  const state = { published: 0, maxHeld: 0 };
  const sink: TaskSink = {
    publish: () =>
      new Promise<void>((resolve) => {
        state.published++;
        held.push(resolve);
        state.maxHeld = Math.max(state.maxHeld, held.length);
      }),
    close: () => Promise.resolve(),
  };
  const confirmAll = () => {
    for (const resolve of held.splice(0)) resolve();
  };
  return { sink, state, confirmAll };
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("submitMatches from a stream", () => {
  it("takes the next match only when the confirm window has room", async () => {
    const { sink, state, confirmAll } = heldSink();
    const client = MatchQueueClient.fromSink(sink, clientOptionsFrom(config, silentLogger));
    let pulled = 0;
    function* matches() {
      for (let i = 0; i < 23; i++) {
        pulled++;
        yield match(i);
      }
    }
    const progress: [number, number | undefined][] = [];
    const report = client.submitMatches(matches(), { onProgress: (done, total) => progress.push([done, total]) });
    await tick();
    expect([pulled, state.published]).toEqual([WINDOW, WINDOW]);
    while (state.published < 23) {
      confirmAll();
      await tick();
    }
    confirmAll();
    const result = await report;
    expect(state.maxHeld).toBe(WINDOW);
    expect(result.submitted.map((s) => s.index)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(result.submitted.map((s) => s.externalMatchId)).toEqual(Array.from({ length: 23 }, (_, i) => `m-${i}`));
    // The total of a generator is not known in advance.
    expect(progress.at(-1)).toEqual([23, undefined]);
  });

  it("reads an async iterable (lines of a stream) and reports invalid ones with their position and id", async () => {
    const { sink, confirmAll } = heldSink();
    const client = MatchQueueClient.fromSink(sink, clientOptionsFrom(config, silentLogger));
    async function* lines() {
      for (let i = 0; i < 12; i++) {
        await tick();
        confirmAll();
        yield i === 3 ? { ...match(i), away_team: undefined } : match(i);
      }
    }
    const pending = client.submitMatches(lines(), { countOnly: true });
    for (let i = 0; i < 50; i++) {
      confirmAll();
      await tick();
    }
    const report = await pending;
    expect(report.submitted).toBe(11);
    expect(report.invalid).toEqual([{ index: 3, externalMatchId: "m-3", errors: [expect.objectContaining({ field: "away_team", rule: "required" })] }]);
    expect(report.failed).toEqual([]);
  });

  it("arrays keep working, with their length as the progress total", async () => {
    const sink: TaskSink = { publish: () => Promise.resolve(), close: () => Promise.resolve() };
    const client = MatchQueueClient.fromSink(sink, clientOptionsFrom(config, silentLogger));
    const totals = new Set<number | undefined>();
    const report = await client.submitMatches([match(1), "not a match", match(2)], { onProgress: (_done, total) => totals.add(total) });
    expect(report.submitted.map((s) => s.index)).toEqual([0, 2]);
    expect(report.invalid.map((i) => i.index)).toEqual([1]);
    expect([...totals]).toEqual([3]);
  });

  it("an input that fails mid-way fails the call, once what was published is settled", async () => {
    const { sink, state, confirmAll } = heldSink();
    const client = MatchQueueClient.fromSink(sink, clientOptionsFrom(config, silentLogger));
    async function* broken() {
      yield match(1);
      yield match(2);
      await tick();
      throw new Error("stdin went away");
    }
    let settled = false;
    const pending = client.submitMatches(broken()).finally(() => (settled = true));
    for (let i = 0; i < 5; i++) await tick();
    expect(state.published).toBe(2);
    expect(settled).toBe(false); // still waiting for the two confirms
    confirmAll();
    await expect(pending).rejects.toThrow("stdin went away");
  });
});

/**
 * Lessons, "routing": `queue status` shows queues with no consumers, including the ones whose name
 * is not the configured work queue's (where a wrong queue name strands messages), and leaves out
 * the queues that have no consumer on purpose.
 */
import { describe, expect, it } from "vitest";
import { topologyNames } from "../../src/broker/topology.js";
import { loadConfig } from "../../src/config.js";
import { strandedQueueWarnings } from "../../src/ops/stranded-queues.js";

const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);

describe("lessons: routing -- stranded queues of other names", () => {
  it("warns about a queue with ready messages and no consumer, whatever its name, the fullest first", () => {
    const warnings = strandedQueueWarnings(names, [
      { name: "celery", ready: 1900, consumers: 0 },
      { name: "matches.academy", ready: 3, consumers: 0 },
      { name: "busy", ready: 40, consumers: 2 },
      { name: "empty", ready: 0, consumers: 0 },
      { name: "unsampled", ready: null, consumers: null },
    ]);
    expect(warnings).toEqual([expect.stringMatching(/^1900 messages wait in queue "celery" with no consumer/), expect.stringMatching(/^3 messages wait in queue "matches\.academy" with no consumer/)]);
    expect(warnings[0]).toContain(`queue=${JSON.stringify(names.queue)}`);
  });

  it("leaves out the reported queues and those idle by design: retry, eta, dead-letter and lock queues, of any work queue", () => {
    const idle = [names.queue, names.deadLetterQueue, ...names.delayQueues.map((d) => d.name), ...names.etaDelayQueues.map((d) => d.name), "matches.retry.2000ms", "matches.academy.retry.60000ms", "matches.academy.eta.4000ms", "matches.academy.dead_letter", "matches.dead_letter.lock"];
    expect(strandedQueueWarnings(names, idle.map((name) => ({ name, ready: 5, consumers: 0 })))).toEqual([]);
  });

  it("names ten at most, and counts the rest", () => {
    const many = Array.from({ length: 13 }, (_, i) => ({ name: `q${String(i).padStart(2, "0")}`, ready: 1, consumers: 0 }));
    const warnings = strandedQueueWarnings(names, many);
    expect(warnings).toHaveLength(11);
    expect(warnings[10]).toBe("3 more queues hold messages with no consumer");
  });
});

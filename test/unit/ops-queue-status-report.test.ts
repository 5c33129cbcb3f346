/** Warnings and output of `queue status`, from given rows. */
import { describe, expect, it } from "vitest";
import { topologyNames } from "../../src/broker/topology-names.js";
import { loadConfig } from "../../src/config.js";
import { formatQueueStatus, queuesToReport, statusWarnings, unsampledNote, unusedRetryQueues, type QueueRow } from "../../src/ops/queue-status-report.js";

function row(partial: Partial<QueueRow> & Pick<QueueRow, "name" | "role">): QueueRow {
  return { exists: true, ready: 0, unacked: 0, consumers: 0, publishRate: null, deliverRate: null, ...partial };
}

describe("queuesToReport", () => {
  it("lists the work queue, the dead-letter queue, each retry queue from config and each eta queue", () => {
    const config = loadConfig({ MATCHES_QUEUE: "fixtures", RETRY_MAX: "2" });
    const refs = queuesToReport(topologyNames(config.topology, config.retry));
    expect(refs.slice(0, 4)).toEqual([
      { name: "fixtures", role: "work" },
      { name: "fixtures.dead_letter", role: "dead_letter" },
      { name: "fixtures.retry.60000ms", role: "retry", delayMs: 60000 },
      { name: "fixtures.retry.120000ms", role: "retry", delayMs: 120000 },
    ]);
    expect(refs.slice(4, 6)).toEqual([
      { name: "fixtures.eta.1000ms", role: "eta", delayMs: 1000 },
      { name: "fixtures.eta.4000ms", role: "eta", delayMs: 4000 },
    ]);
    expect(refs.slice(4).map((r) => r.role)).toEqual(Array<string>(10).fill("eta"));
  });

  it("lists the eta queues with RETRY_MAX=0 too (they are declared whatever it is)", () => {
    const config = loadConfig({ RETRY_MAX: "0" });
    expect(queuesToReport(topologyNames(config.topology, config.retry)).map((r) => r.role)).toEqual(["work", "dead_letter", ...Array<string>(10).fill("eta")]);
  });
});

describe("unusedRetryQueues", () => {
  it("finds this work queue's retry queues that the current schedule does not use, by delay", () => {
    const config = loadConfig({});
    const names = topologyNames(config.topology, config.retry);
    const current = names.delayQueues.map((d) => d.name);
    const found = unusedRetryQueues(names, [...current, "matches.retry.9000ms", "matches.retry.2000ms", "matches.academy.retry.2000ms", "matches.retry.soon", "matches", "matches.dead_letter"]);
    expect(found).toEqual([
      { name: "matches.retry.2000ms", role: "retry", delayMs: 2000, unused: true },
      { name: "matches.retry.9000ms", role: "retry", delayMs: 9000, unused: true },
    ]);
    expect(unusedRetryQueues(names, current)).toEqual([]);
  });
});

describe("statusWarnings", () => {
  it("warns when messages wait in the work queue with no consumer", () => {
    const w = statusWarnings([row({ name: "matches", role: "work", ready: 1900, consumers: 0 })]);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/1900 messages wait in matches with no consumer/);
  });

  it("does not warn about a consumed work queue, an empty one, or retry and eta queues (never consumed)", () => {
    expect(
      statusWarnings([
        row({ name: "matches", role: "work", ready: 50, consumers: 2 }),
        row({ name: "matches.retry.60000ms", role: "retry", ready: 10, consumers: 0 }),
        row({ name: "matches.eta.1024000ms", role: "eta", delayMs: 1_024_000, ready: 500, consumers: 0 }),
        row({ name: "matches.dead_letter", role: "dead_letter", ready: 0, consumers: 0 }),
      ]),
    ).toEqual([]);
    expect(statusWarnings([row({ name: "matches", role: "work", ready: 0, consumers: 0 })])).toEqual([]);
  });

  it("warns when the dead-letter queue is not empty, unacked included", () => {
    expect(statusWarnings([row({ name: "matches.dead_letter", role: "dead_letter", ready: 0, unacked: 1 })])).toEqual([
      "dead-letter queue matches.dead_letter holds 1 message: see matchflow dlq list",
    ]);
  });

  it("reports missing queues in one line and nothing else about them", () => {
    const missing = { exists: false, ready: null, unacked: null, consumers: null };
    const w = statusWarnings([row({ name: "matches", role: "work", ...missing }), row({ name: "matches.dead_letter", role: "dead_letter", ...missing })]);
    expect(w).toEqual(["queues matches, matches.dead_letter do not exist (workers and publishers declare the topology when they start; check MATCHES_QUEUE and the vhost)"]);
  });
});

describe("formatQueueStatus", () => {
  it("prints rates only for management figures, unknown unacked as ?, missing queues as missing", () => {
    const queues = [row({ name: "matches", role: "work", ready: 3, unacked: null, consumers: 0 }), row({ name: "matches.retry.60000ms", role: "retry", delayMs: 60000, exists: false, ready: null, unacked: null, consumers: null })];
    const text = formatQueueStatus({ source: "amqp", broker: "127.0.0.1:5672 vhost /", queues, warnings: statusWarnings(queues), notes: ["management API unreachable"] });
    expect(text).toContain("figures from AMQP");
    expect(text.split("\n")[1]).not.toMatch(/publish|deliver/);
    expect(text).toMatch(/matches\s+work\s+3\s+\?\s+0/);
    expect(text).toMatch(/matches\.retry\.60000ms\s+retry 60000ms\s+missing/);
    const eta = formatQueueStatus({ source: "amqp", broker: "b", queues: [row({ name: "matches.eta.4000ms", role: "eta", delayMs: 4000, ready: 2, unacked: null })], warnings: [], notes: [] });
    expect(eta).toMatch(/matches\.eta\.4000ms\s+eta 4000ms\s+2\s+\?\s+0/);
    expect(text).toContain("note: management API unreachable");
    expect(text).toContain("warning: 3 messages wait in matches with no consumer");

    const mgmt = formatQueueStatus({ source: "management", broker: "b", queues: [row({ name: "matches", role: "work", ready: 1, consumers: 1, publishRate: 12.34, deliverRate: 0 })], warnings: [], notes: [] });
    expect(mgmt).toMatch(/publish\s+deliver/);
    expect(mgmt).toMatch(/12\.3\/s\s+0\/s/);
    expect(mgmt.split("\n")[0]).toBe("broker b (figures from the management API, sampled every few seconds: they can trail the queues by that much)");
  });

  it("shows figures the management API has not sampled yet as unknown", () => {
    const queues = [row({ name: "matches", role: "work", ready: null, unacked: null, consumers: null })];
    const text = formatQueueStatus({ source: "management", broker: "b", queues, warnings: statusWarnings(queues), notes: [] });
    expect(text).toMatch(/^matches\s+work\s+\?\s+\?\s+\?\s+-\s+-$/m);
    expect(statusWarnings(queues)).toEqual([]);
  });
});

describe("unsampledNote", () => {
  it("names the existing queues without sampled counts, and nothing when all are sampled", () => {
    const unknown = { ready: null, unacked: null, consumers: null };
    expect(unsampledNote([row({ name: "matches", role: "work" }), row({ name: "matches.retry.60000ms", role: "retry", exists: false, ...unknown })])).toBeUndefined();
    expect(unsampledNote([row({ name: "matches", role: "work", ...unknown }), row({ name: "matches.dead_letter", role: "dead_letter", ...unknown })])).toMatch(
      /^the management API has not sampled queues matches, matches\.dead_letter yet .*unknown figures show as \?/,
    );
  });
});

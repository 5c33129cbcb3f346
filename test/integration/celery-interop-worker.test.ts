/**
 * matchflow -> real Python Celery 5 worker: every published match reaches the task
 * `celery_tasks.match_tasks.process_match_data` with args equal to the match dict, in both
 * protocols and in both declare orders (matchflow first; Celery worker first).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MatchQueueClient } from "../../src/broker/publisher.js";
import { loadConfig } from "../../src/config.js";
import { validateForProducer } from "../../src/contract/index.js";
import { createLogger } from "../../src/log.js";
import { createVhost, type TestVhost } from "../helpers/rabbit.js";
import { startCeleryWorker, waitFor, type CeleryWorker } from "../interop/celery-process.js";

const config = loadConfig({});
const dir = mkdtempSync(join(tmpdir(), "mf-celery-"));
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

function matches(prefix: string, n: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    home_team: i % 3 === 0 ? `Société Ñandú ${i} 'FC'` : `Home ${i}`,
    away_team: `Away "${i}"`,
    match_date: "2025-09-06",
    age_group: "U14",
    match_type: "League",
    league: "Homegrown",
    home_score: i % 4,
    away_score: 1,
    external_match_id: `${prefix}-${i}`,
    scraped_at: "2025-09-06T20:00:00.000Z",
  }));
}

/** A logger whose warnings we can read: declare orders must not produce any. */
function capturingLogger(): { log: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const log = createLogger({ level: "warn", destination: { write: (s: string) => void lines.push(s) } });
  return { log, lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

async function connectClient(v: TestVhost, protocol: 1 | 2, log: ReturnType<typeof createLogger>): Promise<MatchQueueClient> {
  const client = await MatchQueueClient.connect({ url: v.url, queueType: "classic", topology: config.topology, retry: config.retry, publish: { ...config.publish, protocol }, maxMessageBytes: config.maxMessageBytes, log });
  cleanups.push(() => client.close());
  return client;
}

async function vhostWithWorker(prefix: string): Promise<{ vhost: TestVhost; worker: () => CeleryWorker; start: () => CeleryWorker }> {
  const vhost = await createVhost(prefix);
  cleanups.push(() => vhost.drop());
  let worker: CeleryWorker | undefined;
  const start = () => {
    worker = startCeleryWorker(vhost.url, join(dir, `${prefix}.ndjson`));
    cleanups.push(() => worker!.stop());
    return worker;
  };
  return { vhost, start, worker: () => worker! };
}

/** `v1Ids`: tasks sent with protocol 1, whose body carries no root id. */
function expectReceived(worker: CeleryWorker, sent: Record<string, unknown>[], taskIds: string[], v1Ids: string[] = []): void {
  const received = worker.received();
  expect(received).toHaveLength(sent.length);
  const byId = new Map(received.map((r) => [r.id, r]));
  sent.forEach((m, i) => {
    const got = byId.get(taskIds[i]!);
    expect(got, `task ${taskIds[i]} for ${String(m.external_match_id)}`).toBeDefined();
    const expected = validateForProducer(m);
    if (!expected.ok) throw new Error("test data invalid");
    expect(got!.args).toEqual([expected.match]);
    expect(got!.kwargs).toEqual({});
    expect(got!.retries).toBe(0);
    // Celery fills what the headers leave out (matchflow sends no null-valued ones) with its defaults.
    expect(got).toMatchObject({ root_id: v1Ids.includes(taskIds[i]!) ? null : taskIds[i], parent_id: null, group: null, eta: null, expires: null });
    expect(got!.timelimit === null || got!.timelimit.every((t) => t === null)).toBe(true);
  });
}

describe("matchflow publishes, a real Celery worker consumes", () => {
  it("matchflow declares first, then the worker starts: protocol 2 and protocol 1 both arrive intact", async () => {
    const { vhost, start } = await vhostWithWorker("cw1");
    const { log, lines } = capturingLogger();
    const v2 = matches("v2", 20);
    const v1 = matches("v1", 10);
    const client2 = await connectClient(vhost, 2, log);
    const ids2 = await Promise.all(v2.map((m) => client2.submitMatch(m)));
    const client1 = await connectClient(vhost, 1, log);
    const ids1 = await Promise.all(v1.map((m) => client1.submitMatch(m)));
    const worker = start();
    await waitFor("the Celery worker to run 30 tasks", () => worker.received().length >= 30, { details: () => worker.output() });
    expectReceived(worker, [...v2, ...v1], [...ids2, ...ids1], ids1);
    expect(lines().filter((l) => l.level === "warn")).toEqual([]);
    expect(worker.output()).not.toMatch(/PRECONDITION_FAILED|Traceback/);
  });

  it("the worker declares first, then matchflow declares and publishes: no warning, no channel error", async () => {
    const { vhost, start } = await vhostWithWorker("cw2");
    const worker = start();
    await waitFor("the Celery worker to consume from matches", async () => ((await vhost.queue("matches"))?.consumers ?? 0) >= 1, { intervalMs: 100, details: () => worker.output() });
    const { log, lines } = capturingLogger();
    const sent = matches("late", 15);
    const client = await connectClient(vhost, 2, log);
    const report = await client.submitMatches(sent);
    expect(report.invalid).toEqual([]);
    expect(report.failed).toEqual([]);
    await waitFor("the Celery worker to run 15 tasks", () => worker.received().length >= 15, { details: () => worker.output() });
    expectReceived(worker, sent, report.submitted.map((s) => s.taskId));
    expect(lines().filter((l) => l.level === "warn")).toEqual([]);
    expect(worker.child.exitCode).toBeNull();
  });
});

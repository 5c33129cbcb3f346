/**
 * The dlq and queue commands while real workers consume the work queue (the other ops-dlq files
 * run them against an idle vhost): requeueing thousands of dead letters while new tasks arrive,
 * two requeues at once while poison messages are being dead-lettered, purges under load, and
 * listings while letters arrive and leave. Every check is an exact count: a message lost, a task
 * stored or delivered twice, a requeue that chases the letters coming back behind it, or a
 * summary that does not match what moved each fail it.
 *
 * Dead letters of valid tasks are published straight to the dead-letter exchange with the
 * headers a worker gives them (as after a database outage, without waiting for one); poison
 * messages go through the workers, which dead-letter them (and again after each requeue).
 */
import { connect, type ChannelModel, type Options } from "amqplib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MF_HEADERS } from "../../src/broker/headers.js";
import { topologyNames } from "../../src/broker/topology-names.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { loadConfig } from "../../src/config.js";
import type { DeadLetterDetail } from "../../src/ops/dead-letter-message.js";
import type { DeadLetterListing } from "../../src/ops/dead-letters.js";
import { spawnCli, until, type CliProcess } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);
const TASK = config.topology.taskName;
const FINAL = new Set(["created", "updated", "unchanged", "dead_lettered"]);
let t: WorkerEnv;
let amqp: ChannelModel;
let workers: CliProcess[] = [];

beforeAll(async () => {
  t = await createWorkerEnv("dlqlive", { RETRY_BASE_DELAY: "200ms", RETRY_MAX_DELAY: "1s" });
  amqp = await connect(t.vhost.url);
});
afterEach(async () => {
  await t.killAll();
  workers = [];
  // Each test starts from empty queues (the workers declared them).
  const ch = await amqp.createChannel();
  await ch.purgeQueue(names.queue);
  await ch.purgeQueue(names.deadLetterQueue);
  await ch.close();
});
afterAll(async () => {
  await amqp?.close();
  await t?.teardown();
});

async function startWorkers(n: number, extra: Record<string, string> = {}): Promise<void> {
  workers = await Promise.all(Array.from({ length: n }, () => t.startWorker(extra, ["--batch-size", "50"])));
}

async function publish(exchange: string, routingKey: string, messages: { content: Buffer; properties: Options.Publish }[]): Promise<void> {
  const ch = await amqp.createConfirmChannel();
  try {
    for (const [i, m] of messages.entries()) {
      ch.publish(exchange, routingKey, m.content, { deliveryMode: 2, ...m.properties });
      if (i % 500 === 499) await ch.waitForConfirms();
    }
    await ch.waitForConfirms();
  } finally {
    await ch.close();
  }
}

/** `n` valid tasks as dead letters, as a worker leaves them after a database outage. */
async function seedDeadLetters(prefix: string, n: number): Promise<void> {
  const at = new Date().toISOString();
  await publish(names.deadLetterExchange, names.deadLetterRoutingKey, Array.from({ length: n }, (_, i) => {
    const m = encodeTaskV2({ taskName: TASK, taskId: `${prefix}-${i}`, args: [makeMatch(prefix, i)] });
    const failure = { [MF_HEADERS.errorCode]: "db_lock_timeout", [MF_HEADERS.attempts]: 4, [MF_HEADERS.firstFailureAt]: at, [MF_HEADERS.deadLetteredAt]: at, [MF_HEADERS.originalExchange]: names.exchange, [MF_HEADERS.originalRoutingKey]: names.routingKey };
    return { content: m.content, properties: { ...m.properties, headers: { ...m.properties.headers, ...failure } } };
  }));
}

/** Three kinds of poison, round robin: a broken contract, an unknown task and a body that is not JSON (requeued byte for byte). */
const POISON_CODES = ["contract_violation", "unknown_task", "malformed_json"];
function poison(id: string, i: number): { content: Buffer; properties: Options.Publish } {
  if (i % 3 === 2) return { content: Buffer.from("[[{"), properties: { contentType: "application/json", contentEncoding: "utf-8", correlationId: id, headers: { task: TASK, id } } };
  return encodeTaskV2({ taskName: i % 3 === 0 ? TASK : "tasks.other", taskId: id, args: [i % 3 === 0 ? { home_team: "IFA", match_date: "2026-10-01", external_match_id: id } : makeMatch(id, 0)] });
}
const poisonIds = (prefix: string, n: number, from = 0) => Array.from({ length: n }, (_, i) => `${prefix}-${from + i}`);
async function sendPoison(prefix: string, n: number, from = 0): Promise<void> {
  await publish(names.exchange, names.routingKey, poisonIds(prefix, n, from).map((id, i) => poison(id, from + i)));
}

/**
 * Final settlements (stored or dead-lettered) over every worker of the test: stored tasks by
 * external match id (the publisher's task ids are UUIDs), dead letters by task id.
 */
function settlements(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const l of workers.flatMap((w) => w.logs)) {
    if (typeof l.outcome !== "string" || !FINAL.has(l.outcome)) continue;
    const id = String(l.outcome === "dead_lettered" ? l.taskId : l.externalMatchId);
    out.set(id, [...(out.get(id) ?? []), l.outcome]);
  }
  return out;
}
const settledCount = () => [...settlements().values()].reduce((n, s) => n + s.length, 0);
const dlq = (...args: string[]) => spawnCli(["dlq", ...args], { RABBITMQ_URL: t.vhost.url });

/** The number in "requeued N dead letters ..." (and exit 0, nothing on stderr but the lock notice). */
async function requeuedCount(p: CliProcess): Promise<number> {
  const { code } = await p.exited;
  expect(p.stderr().replace(/^waiting for another dlq command.*\n/, "")).toBe("");
  expect(code).toBe(0);
  const m = /^requeued (\d+) dead letters? to exchange matches \(routing key matches\.process\)\n$/.exec(p.stdout());
  expect(m, p.stdout()).not.toBeNull();
  return Number(m?.[1]);
}

/** The dead-letter queue's task ids in queue order (read unacked, given back). */
async function dlqIds(): Promise<string[]> {
  return (await t.peek()).map((m) => String(m.headers.id ?? m.properties.correlationId));
}

/** Keeps sending `batch(from)` (`size` tasks a time, at most `max`) until stopped; resolves how many were sent. */
function keepSending(size: number, max: number, batch: (from: number) => Promise<unknown>): { stop(): Promise<number> } {
  let stopped = false;
  let sent = 0;
  const loop = (async () => {
    while (!stopped && sent < max) {
      await batch(sent);
      sent += size;
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return sent;
    },
  };
}

/** Every task of `prefix` stored once: `n` rows, one final settlement each, never a second delivery ("unchanged"). */
async function expectStoredOnce(prefix: string, n: number): Promise<void> {
  await until(async () => (await t.rows(prefix)).total === n, 90_000, `${n} ${prefix} rows`);
  expect(await t.rows(prefix)).toEqual({ total: n, distinct: n });
  const done = [...settlements()].filter(([id]) => id.startsWith(`${prefix}-`));
  expect(done.length).toBe(n);
  expect(done.filter(([, s]) => s.length !== 1 || s[0] !== "created")).toEqual([]);
}

describe("dlq commands while workers consume", () => {
  it("requeue --all of 3000 dead letters while new tasks arrive: each stored once, poison back once with its reason", async () => {
    const K = 3000;
    const P = 30;
    await startWorkers(2);
    await sendPoison("rp", P);
    await until(async () => (await t.ready(names.deadLetterQueue)) === P, 60_000, "poison dead-lettered");
    const before = new Map((await t.peek()).map((m) => [String(m.headers.id ?? m.properties.correlationId), m.headers]));
    await seedDeadLetters("rq", K);
    expect(await t.ready(names.deadLetterQueue)).toBe(K + P);

    const arriving = keepSending(25, 3000, (from) => t.publish(Array.from({ length: 25 }, (_, i) => makeMatch("rn", from + i))));
    const requeue = dlq("requeue", "--all");
    // Exactly the letters there when it started: the poison that comes back behind it is not taken again.
    expect(await requeuedCount(requeue)).toBe(K + P);
    const sent = await arriving.stop();

    await expectStoredOnce("rq", K);
    await expectStoredOnce("rn", sent);
    // Each poison message went round exactly once more: dead-lettered twice in all, one copy left.
    await until(() => settledCount() === K + sent + 2 * P, 60_000, "every delivery settled");
    const poisonSettled = [...settlements()].filter(([id]) => id.startsWith("rp-"));
    expect(poisonSettled.map(([, s]) => s)).toEqual(Array.from({ length: P }, () => ["dead_lettered", "dead_lettered"]));
    expect(await t.ready(names.queue)).toBe(0);
    const after = await t.peek();
    expect(after.map((m) => String(m.headers.id ?? m.properties.correlationId)).sort()).toEqual(poisonIds("rp", P).sort());
    for (const m of after) {
      const id = String(m.headers.id ?? m.properties.correlationId);
      const first = before.get(id) ?? {};
      // Same reason; attempts start again at 1, the requeue is counted; the first failure is still the first one.
      expect(m.headers[MF_HEADERS.errorCode]).toBe(first[MF_HEADERS.errorCode]);
      expect(m.headers[MF_HEADERS.attempts]).toBe(1);
      expect(m.headers[MF_HEADERS.requeuedFrom]).toBe(names.deadLetterQueue);
      expect(m.headers[MF_HEADERS.requeues]).toBe(1);
      expect(m.headers[MF_HEADERS.firstFailureAt]).toBe(first[MF_HEADERS.firstFailureAt]);
    }
    expect([...new Set(after.map((m) => m.headers[MF_HEADERS.errorCode]))].sort()).toEqual([...POISON_CODES].sort());
    // A requeue of 3000 letters took ~40 s on a loaded machine with one basic.get round trip each;
    // streamed (ops/dead-letter-stream.ts), ~9 s.
  }, 240_000);

  it("two requeue --all at once while poison is being dead-lettered: they take turns, nothing lost or stored twice", async () => {
    // 1000, not thousands: the one that waits gives up after 30 s (dlq_busy), and a requeue did
    // about 100 letters a second here (basic.get) when workers and other tests loaded the broker.
    const K = 1000;
    const P = 30;
    const Q = 60;
    await startWorkers(2);
    await sendPoison("tp", P);
    await until(async () => (await t.ready(names.deadLetterQueue)) === P, 60_000, "poison dead-lettered");
    await seedDeadLetters("tq", K);

    const a = dlq("requeue", "--all");
    const b = dlq("requeue", "--all");
    // One of them holds the lock (it says nothing), the other waits for it: then new poison arrives.
    await until(() => a.stderr() !== "" || b.stderr() !== "" || a.proc.exitCode !== null || b.proc.exitCode !== null, 60_000, "one requeue waiting for the other");
    await sendPoison("tx", Q);
    const counts = await Promise.all([a, b].map(requeuedCount));
    const both = counts.reduce((sum, n) => sum + n, 0);
    expect([a, b].filter((p) => p.stderr().startsWith("waiting for another dlq command")).length).toBe(1);
    // The first saw everything there when it took the lock; the second only what came (back) after.
    expect(Math.max(...counts)).toBeGreaterThanOrEqual(K + P);
    // Only poison can be requeued by both (once each): the valid letters are gone after the first.
    expect(both).toBeLessThanOrEqual(K + 2 * (P + Q));

    await expectStoredOnce("tq", K);
    // Every message published to the work queue was settled exactly once: P + Q first deliveries
    // plus what the two commands said they requeued. A letter requeued twice, or a count that
    // does not match what moved, breaks this sum.
    await until(() => settledCount() === P + Q + both, 60_000, "every delivery settled");
    await until(async () => (await t.ready(names.deadLetterQueue)) === P + Q, 30_000, "all poison back");
    expect(settledCount()).toBe(P + Q + both);
    expect(await t.ready(names.queue)).toBe(0);
    // One copy of each poison message, none lost, none twice.
    expect((await dlqIds()).sort()).toEqual([...poisonIds("tp", P), ...poisonIds("tx", Q)].sort());
  });

  it("dlq purge --yes while poison keeps arriving: what it reports gone plus what is left is what arrived", async () => {
    const D = 500;
    const B = 20;
    await startWorkers(2);
    await seedDeadLetters("pd", D);
    const arriving = keepSending(B, 5000, (from) => sendPoison("pp", B, from));
    await until(() => settledCount() > 0, 60_000, "the first poison dead-lettered");
    const purge = dlq("purge", "--yes");
    const { code } = await purge.exited;
    expect(purge.stderr()).toBe("");
    expect(code).toBe(0);
    const m = /^purged (\d+) dead letters? from matches\.dead_letter\n$/.exec(purge.stdout());
    expect(m, purge.stdout()).not.toBeNull();
    const purged = Number(m?.[1]);
    expect(purged).toBeGreaterThanOrEqual(D);
    // One batch more, sent after the purge: it must be left whatever the timing.
    const sent = (await arriving.stop()) + B;
    await sendPoison("pp", B, sent - B);
    await until(() => settledCount() === sent, 60_000, "all poison dead-lettered");
    await until(async () => (await t.ready(names.deadLetterQueue)) === D + sent - purged, 30_000, "the rest in the dead-letter queue");
    const left = await dlqIds();
    expect(left.length).toBe(D + sent - purged);
    expect(left.length).toBeGreaterThanOrEqual(B);
    // Only dead letters that arrived after the purge are left, each once.
    expect(left.every((id) => id.startsWith("pp-"))).toBe(true);
    expect(new Set(left).size).toBe(left.length);
  });

  it("queue purge --yes while workers hold deliveries: those are stored, the purged count is exact, dead letters untouched", async () => {
    const N = 2000;
    const D = 100;
    // The workers wait on a locked table (well under DB_LOCK_TIMEOUT), holding their prefetch unacked.
    await startWorkers(2, { DB_LOCK_TIMEOUT: "60s" });
    await seedDeadLetters("qd", D);
    const locker = await t.sql.connect();
    try {
      await locker.query("BEGIN; LOCK TABLE matches IN ACCESS EXCLUSIVE MODE");
      await t.publish(Array.from({ length: N }, (_, i) => makeMatch("qn", i)));
      const purge = spawnCli(["queue", "purge", "--yes"], { RABBITMQ_URL: t.vhost.url });
      const { code } = await purge.exited;
      expect(purge.stderr()).toBe("");
      expect(code).toBe(0);
      const m = /^purged (\d+) messages? from matches\n$/.exec(purge.stdout());
      expect(m, purge.stdout()).not.toBeNull();
      const purged = Number(m?.[1]);
      expect(purged).toBeGreaterThan(0);
      expect(purged).toBeLessThan(N);
      await locker.query("COMMIT");
      // What the workers held is stored, each once; nothing else was lost or dead-lettered.
      await until(() => settledCount() === N - purged, 60_000, "the held deliveries settled");
      expect(await t.rows("qn")).toEqual({ total: N - purged, distinct: N - purged });
      expect([...settlements().values()].flat().every((o) => o === "created")).toBe(true);
    } finally {
      await locker.query("ROLLBACK").catch(() => undefined);
      locker.release();
    }
    expect(await t.ready(names.queue)).toBe(0);
    expect(await t.ready(names.deadLetterQueue)).toBe(D);
  });

  it("list and show while letters arrive and are requeued take nothing and leave the order as it was", async () => {
    const L = 600;
    const Q = 100;
    const R = 50;
    await startWorkers(2);
    await seedDeadLetters("ls", L);
    const original = await dlqIds();
    expect(original).toEqual(poisonIds("ls", L));
    const chosen = original.filter((_, i) => i % (L / R) === 1);
    const arriving = sendPoison("lp", Q);
    // Four commands, not more: they take turns on the lock, and the last waits at most 30 s.
    const lists = [dlq("list", "--json", "--limit", "100000"), dlq("list", "--json", "--limit", "100000")];
    const shows = [dlq("show", "ls-599")];
    const requeue = dlq("requeue", ...chosen);
    await arriving;
    expect(await requeuedCount(requeue)).toBe(R);
    const kept = original.filter((id) => !chosen.includes(id));
    for (const list of lists) {
      expect((await list.exited).code).toBe(0);
      const listing = JSON.parse(list.stdout()) as DeadLetterListing;
      expect(listing.cutShort).toBe(false);
      expect(listing.items.length).toBe(listing.total);
      // Whatever it saw of the seeded letters, in their order, ahead of every arrival.
      const ids = listing.items.map((d) => String(d.taskId));
      const seeded = ids.filter((id) => id.startsWith("ls-"));
      expect(seeded).toEqual(seeded.length === L ? original : kept);
      expect(ids.slice(0, seeded.length)).toEqual(seeded);
    }
    for (const show of shows) {
      expect((await show.exited).code).toBe(0);
      expect((JSON.parse(show.stdout()) as DeadLetterDetail[]).map((d) => d.errorCode)).toEqual(["db_lock_timeout"]);
    }

    await expectStoredOnce("ls", R);
    await until(async () => (await t.ready(names.deadLetterQueue)) === L - R + Q, 60_000, "every poison dead-lettered");
    // Nothing taken, nothing moved: the seeded letters in their order, then each arrival once.
    const final = await dlqIds();
    expect(final.slice(0, L - R)).toEqual(kept);
    expect(final.slice(L - R).sort()).toEqual(poisonIds("lp", Q).sort());
  });
});

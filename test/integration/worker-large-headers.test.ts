/**
 * Message headers are bounded only by the negotiated frame_max (a content header must fit in one
 * frame; RabbitMQ's default is 131072), and amqplib decodes every delivery's header table into
 * the V8 heap. With the default, a backlog of 2,000 valid tasks each carrying a 100 KiB string
 * header, held behind a lock on `matches` so that the prefetch (1,600) filled, killed the
 * deployed worker within seconds: "JavaScript heap out of memory" (SIGABRT) while decoding the
 * header strings. The deployment caps frame_max at 16384 (deploy/k8s/base/rabbitmq/rabbitmq.conf);
 * these cases measure that cap without changing the shared local broker: a connection that
 * negotiates `frameMax` gets the same limit from the broker as a `frame_max` in rabbitmq.conf
 * gives every connection.
 *
 * A dead-letter copy is its original's headers plus matchflow's failure headers (~0.5-2.5 KB):
 * near the cap it would not fit, the broker would close the worker's connection (FRAME_ERROR),
 * the whole prefetch would be redelivered and fail again (before the worker fitted its copies, it
 * died of heap out of memory with 200 such tasks among 2,000). The worker now drops the largest
 * foreign headers of such a copy and names them in `x-matchflow-dropped-headers`; likewise for a
 * header table larger than amqplib can encode (64 KiB) under the default frame_max.
 */
import { readFileSync } from "node:fs";
import { connect, type Options } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEPLOYED_WORKER_NODE_ARGS } from "../../bench/lib/deployed.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { loadConfig } from "../../src/config.js";
import { until } from "../helpers/cli.js";
import { allowLargeHeaders, contentHeaderFrameBytes } from "../helpers/large-headers.js";
import { lockMatchesTable } from "../helpers/pg.js";
import { publishConfirmed } from "../helpers/rabbit.js";
import { makeMatch } from "../helpers/matches.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

const TASK = "celery_tasks.match_tasks.process_match_data";
const VALID = 2000;
/** The deployed broker cap: 16 KiB (Celery's own headers are 2-4 KB, matchflow's failure headers ~0.5-2.5 KB). */
const CANDIDATE_FRAME_MAX = 16384;
/**
 * RabbitMQ compares a frame's payload with frame_max itself, not frame_max minus the 8 bytes of
 * frame header and end (rabbit_reader's FRAME_SIZE_FUDGE): the largest frame it takes is
 * frame_max + 8 bytes, and it reports the limit as frame_max - 8.
 */
const LARGEST_FRAME = CANDIDATE_FRAME_MAX + 8;

let t: WorkerEnv;

beforeAll(async () => {
  t = await createWorkerEnv("bighdr", { LOG_LEVEL: "info", DB_LOCK_TIMEOUT: "60s" });
  // The topology first (the worker declares it), then the backlog, as an outside producer would leave it.
  const declaring = await t.startWorker();
  declaring.kill("SIGTERM");
  await declaring.exited;
});
afterAll(async () => t?.teardown());

const withFrameMax = (url: string) => `${url}?frameMax=${CANDIDATE_FRAME_MAX}`;

/**
 * A valid Celery task for `match` whose content header frame is exactly `frameBytes` long: an
 * `x-pad` header of ASCII text ending in one character outside Latin-1, so that V8 stores the
 * decoded string with two bytes per character (the most heap a string header can take per byte).
 */
function paddedTask(match: Record<string, unknown>, taskId: string, frameBytes: number, extra: Record<string, unknown> = {}): { content: Buffer; properties: Options.Publish } {
  const m = encodeTaskV2({ taskName: TASK, taskId, args: [match] });
  const props = (pad: string) => ({ ...m.properties, headers: { ...m.properties.headers, ...extra, "x-pad": pad } });
  const room = frameBytes - contentHeaderFrameBytes(props(""));
  const message = { content: m.content, properties: props(`${"x".repeat(room - 3)}€`) };
  expect(contentHeaderFrameBytes(message.properties)).toBe(frameBytes);
  return message;
}

const publishLarge = (url: string, messages: { content: Buffer; properties: Options.Publish }[]) => publishConfirmed(url, messages, allowLargeHeaders);

/** Every dead letter, its headers and body (read unacked: they stay in the queue). */
const deadLetters = () => t.peek();

/**
 * A valid Celery task for `match` whose content header frame is at most `frameBytes` long, filled
 * with a `junk` header of empty tables: 5 bytes each on the wire, a V8 object each once decoded.
 */
function structuredTask(match: Record<string, unknown>, taskId: string, frameBytes: number): { content: Buffer; properties: Options.Publish } {
  const m = encodeTaskV2({ taskName: TASK, taskId, args: [match] });
  const props = (n: number) => ({ ...m.properties, headers: { ...m.properties.headers, junk: Array.from({ length: n }, () => ({})) } });
  const message = { content: m.content, properties: props(Math.floor((frameBytes - contentHeaderFrameBytes(props(0))) / 5)) };
  expect(contentHeaderFrameBytes(message.properties)).toBeGreaterThan(frameBytes - 5);
  return message;
}

/** A task the worker dead-letters at once (schema_version_unsupported). */
const invalidMatch = (prefix: string, i: number) => ({ ...makeMatch(prefix, i), schema_version: 2 });

function peakRssBytes(pid: number | undefined): number {
  return 1024 * Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
}

describe("worker with large message headers", () => {
  it("the broker takes a content header frame of frame_max + 8 bytes and closes the connection of a producer that sends a larger one", async () => {
    await publishLarge(withFrameMax(t.vhost.url), [paddedTask(makeMatch("fit", 0), "fit-0", LARGEST_FRAME)]);
    expect(await t.ready()).toBe(1);

    const conn = await connect(withFrameMax(t.vhost.url));
    const closed = new Promise<unknown>((resolve) => conn.once("error", resolve));
    const ch = allowLargeHeaders(await conn.createConfirmChannel());
    ch.on("error", () => undefined);
    const big = paddedTask(makeMatch("over", 0), "over-0", LARGEST_FRAME + 1);
    ch.publish("matches", "matches.process", big.content, big.properties);
    const error = (await closed) as { code?: number; message: string };
    expect(error.code).toBe(501);
    expect(error.message).toContain(`frame_too_large,${LARGEST_FRAME + 1 - 8},${CANDIDATE_FRAME_MAX - 8}`);
    expect(await t.ready()).toBe(1);
    const purge = await connect(t.vhost.url);
    await (await purge.createChannel()).purgeQueue("matches");
    await purge.close();
  });

  it("survives a full prefetch of valid tasks whose headers fill the largest frame behind a stalled database, and stores each once", async () => {
    const config = loadConfig({});
    const messages = [
      ...Array.from({ length: VALID }, (_, i) => paddedTask(makeMatch("hdr", i), `hdr-${i}`, LARGEST_FRAME)),
    ];
    await publishLarge(withFrameMax(t.vhost.url), messages);

    const lock = await lockMatchesTable(t.db.url);
    try {
      // The worker negotiates the deployed frame_max, as it would with the deployed broker.
      const worker = await t.startWorker({ RABBITMQ_URL: withFrameMax(t.vhost.url) }, [], DEPLOYED_WORKER_NODE_ARGS.split(" "));
      const exited = worker.exited.then((e) => ({ ...e, stderr: worker.stderr().slice(-600) }));
      const filled = until(async () => (await t.ready()) <= VALID - config.worker.prefetch, 60_000, "the prefetch to fill");
      expect(await Promise.race([filled.then(() => "filled" as const), exited])).toBe("filled");
      // Held with the whole prefetch decoded: released only once every concurrent batch waits on the lock.
      const waiting = async () => Number((await t.sql.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'matchflow' AND wait_event_type = 'Lock'")).rows[0]?.n);
      const blocked = until(async () => (await waiting()) === config.worker.concurrency, 60_000, "every batch waiting on the lock");
      expect(await Promise.race([blocked.then(() => "blocked" as const), exited])).toBe("blocked");
      await lock.release();

      const settled = until(async () => (await t.rows("hdr")).total === VALID && (await t.ready()) === 0, 110_000, "every message settled");
      expect(await Promise.race([settled.then(() => "settled" as const), exited])).toBe("settled");
      expect(worker.stderr()).not.toContain("heap out of memory");
      expect(await t.rows("hdr")).toEqual({ total: VALID, distinct: VALID });
      expect(await t.ready("matches.dead_letter")).toBe(0);
      const peak = peakRssBytes(worker.proc.pid);
      expect(peak).toBeLessThan(512 * 2 ** 20);
    } finally {
      await lock.close();
    }
  });

  it("under the default frame_max, dead-letters a failing task whose 100 KiB header amqplib cannot encode (header left out on arrival) instead of returning it to the queue forever", async () => {
    await t.killAll();
    const m = encodeTaskV2({ taskName: TASK, taskId: "big-0", args: [invalidMatch("big", 0)] });
    const properties = { ...m.properties, headers: { ...m.properties.headers, "x-small": "kept", "x-pad": "x".repeat(100 * 1024) } };
    await publishLarge(t.vhost.url, [{ content: m.content, properties }]);
    const worker = await t.startWorker();
    await until(async () => (await t.ready("matches.dead_letter")) === 1 && (await t.ready()) === 0, 30_000, "the dead letter");
    const [letter, ...more] = await deadLetters();
    expect(more).toEqual([]);
    expect(letter?.headers).toMatchObject({ id: "big-0", "x-small": "kept", "x-matchflow-error-code": "schema_version_unsupported", "x-matchflow-dropped-headers": "x-pad" });
    expect(letter?.headers["x-pad"]).toBeUndefined();
    expect(letter?.content.equals(m.content)).toBe(true);
    // 100 KiB of text is ~200 KB of heap: left out as the task arrived (inbound-headers.ts), before
    // any copy; the copy would have left it out too (amqplib cannot encode it), as it did before.
    expect(worker.logs.filter((l) => l.msg === "headers left out of a received task: decoded, they would take too much of the heap (named in x-matchflow-dropped-headers)").map((l) => l.dropped)).toEqual([["x-pad"]]);
    worker.kill("SIGTERM");
    await worker.exited;
    const purge = await connect(t.vhost.url);
    await (await purge.createChannel()).purgeQueue("matches.dead_letter");
    await purge.close();
  });

  it("dead-letters each of 200 invalid tasks whose headers fill the largest frame exactly once, naming the header left out, among a full prefetch of valid ones", async () => {
    await t.killAll();
    const isInvalid = (i: number) => i % 10 === 9;
    const invalid = Array.from({ length: VALID }, (_, i) => i).filter(isInvalid).length;
    const messages = Array.from({ length: VALID }, (_, i) =>
      isInvalid(i) ? paddedTask(invalidMatch("inv", i), `inv-${i}`, LARGEST_FRAME, { "x-small": "kept" }) : paddedTask(makeMatch("ok", i), `ok-${i}`, LARGEST_FRAME),
    );
    expect(invalid).toBe(200);
    await publishLarge(withFrameMax(t.vhost.url), messages);

    const worker = await t.startWorker({ RABBITMQ_URL: withFrameMax(t.vhost.url) }, [], DEPLOYED_WORKER_NODE_ARGS.split(" "));
    const exited = worker.exited.then((e) => ({ ...e, stderr: worker.stderr().slice(-600) }));
    const settled = until(async () => (await t.rows("ok")).total === VALID - invalid && (await t.ready("matches.dead_letter")) === invalid && (await t.ready()) === 0, 110_000, "every message settled");
    expect(await Promise.race([settled.then(() => "settled" as const), exited])).toBe("settled");

    const letters = await deadLetters();
    expect(letters).toHaveLength(invalid);
    expect(new Set(letters.map((l) => l.headers.id)).size).toBe(invalid);
    for (const l of letters) {
      expect(l.headers).toMatchObject({ "x-small": "kept", "x-matchflow-error-code": "schema_version_unsupported", "x-matchflow-attempts": 1, "x-matchflow-dropped-headers": "x-pad" });
      expect(l.headers["x-pad"]).toBeUndefined();
    }
    expect(await t.rows("ok")).toEqual({ total: VALID - invalid, distinct: VALID - invalid });
    // One delivery each: the worker's connection was never closed under it.
    expect(worker.logs.filter((l) => l.msg === "broker connection lost; reconnecting")).toEqual([]);
    expect(worker.logs.filter((l) => l.outcome === "dead_lettered")).toHaveLength(invalid);
    expect(worker.stderr()).not.toContain("heap out of memory");
    expect(worker.proc.exitCode).toBeNull();
    expect(peakRssBytes(worker.proc.pid)).toBeLessThan(512 * 2 ** 20);
  });

  it("survives a full prefetch of tasks whose headers fill the largest frame with empty tables (~12x their size decoded): stores each once, dead-letters the invalid ones naming the header left out", async () => {
    await t.killAll();
    const isInvalid = (i: number) => i % 10 === 9;
    const messages = Array.from({ length: VALID }, (_, i) =>
      isInvalid(i) ? structuredTask(invalidMatch("sinv", i), `sinv-${i}`, LARGEST_FRAME) : structuredTask(makeMatch("sok", i), `sok-${i}`, LARGEST_FRAME),
    );
    const invalid = VALID / 10;
    const purge = await connect(t.vhost.url);
    await (await purge.createChannel()).purgeQueue("matches.dead_letter");
    await purge.close();
    await publishLarge(withFrameMax(t.vhost.url), messages);

    // Before the worker bounded received headers, this backlog killed it within 1.5 s (heap out of memory), on every restart.
    const worker = await t.startWorker({ RABBITMQ_URL: withFrameMax(t.vhost.url) }, [], DEPLOYED_WORKER_NODE_ARGS.split(" "));
    const exited = worker.exited.then((e) => ({ ...e, stderr: worker.stderr().slice(-600) }));
    const settled = until(async () => (await t.rows("sok")).total === VALID - invalid && (await t.ready("matches.dead_letter")) === invalid && (await t.ready()) === 0, 110_000, "every message settled");
    expect(await Promise.race([settled.then(() => "settled" as const), exited])).toBe("settled");

    expect(await t.rows("sok")).toEqual({ total: VALID - invalid, distinct: VALID - invalid });
    const letters = await deadLetters();
    expect(letters).toHaveLength(invalid);
    for (const l of letters) {
      expect(l.headers).toMatchObject({ "x-matchflow-error-code": "schema_version_unsupported", "x-matchflow-dropped-headers": "junk" });
      expect(l.headers.junk).toBeUndefined();
    }
    expect(worker.logs.filter((l) => l.msg === "headers left out of a received task: decoded, they would take too much of the heap (named in x-matchflow-dropped-headers)")).toHaveLength(VALID);
    expect(worker.stderr()).not.toContain("heap out of memory");
    expect(worker.proc.exitCode).toBeNull();
  });
});

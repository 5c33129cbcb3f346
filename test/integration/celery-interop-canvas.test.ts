/**
 * Celery's canvas through matchflow, both ways with real Celery: a Python producer sends the match
 * task with a chain, link callbacks or a link_error errback; `matchflow worker` stores the match
 * and sends the follow-ups, which a real Celery worker (another app, consuming the default queue
 * `celery`) runs; a chain's `AsyncResult.get()` in the producer returns the last step's value.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type ConfirmChannel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { derivedTaskId } from "../../src/celery/canvas.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import type { CliProcess } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";
import { runInteropLines, startCeleryWorker, waitFor, type CeleryWorker } from "../interop/celery-process.js";

const TASK = "celery_tasks.match_tasks.process_match_data";
const dir = mkdtempSync(join(tmpdir(), "mf-canvas-"));
const out = join(dir, "follow.ndjson");
let t: WorkerEnv;
let worker: CliProcess;
let celery: CeleryWorker;

interface Seen {
  task: string;
  args: unknown[];
  /** The args as the Celery task's json.dumps wrote them: Python's types, which JSON.parse would blur. */
  args_json: string;
  id: string;
  root_id: string | null;
  parent_id: string | null;
  group: string | null;
  group_index: number | null;
  exchange: string | null;
  routing_key: string | null;
}
const seen = () => celery.received() as unknown as Seen[];

beforeAll(async () => {
  t = await createWorkerEnv("canvas", { RESULT_BACKEND: "rpc://" });
  worker = await t.startWorker();
  celery = startCeleryWorker(t.vhost.url, out, { app: "celery_tasks.follow_tasks", queues: "celery" });
  // The Celery worker declares its queue when it starts consuming.
  await waitFor("the Celery worker's queue", async () => (await t.vhost.queue("celery")) !== undefined, { attempts: 600, details: () => celery.output() });
});

afterAll(async () => {
  await celery?.stop();
  await t?.teardown();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs canvas_client.py; its output lines (the match task's id first). */
function pythonSend(mode: "chain" | "chain-matches" | "link" | "link-numbers" | "link-group" | "link-exchange", match: unknown): Promise<string[]> {
  const file = join(dir, `${mode}-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(match));
  return runInteropLines("canvas_client.py", [t.vhost.url, mode, file], () => `worker: ${celery.output()}`);
}

const ofParent = (taskId: string) => () => seen().filter((s) => s.parent_id === taskId);

async function withChannel(fn: (ch: ConfirmChannel) => Promise<void>): Promise<void> {
  const conn = await connect(t.vhost.url);
  try {
    await fn(await conn.createConfirmChannel());
  } finally {
    await conn.close();
  }
}

describe("Celery canvas run by matchflow's worker, followed by a real Celery worker", () => {
  it("a chain: the next step gets the stored match's result first in its args, and the producer's get() returns what that step returned", async () => {
    const [taskId, answer] = await pythonSend("chain", makeMatch("chain", 1));
    const got = JSON.parse(answer ?? "null") as { ok: boolean; result: Seen };
    expect(got.ok, answer).toBe(true);
    expect(got.result).toMatchObject({ task: "notify.record", parent_id: taskId, root_id: taskId });
    expect(got.result.args).toEqual([{ match_id: expect.any(Number) as number, status: "created", external_match_id: "chain-1" }, "chained"]);
    expect((await t.rows("chain")).total).toBe(1);
  });

  it("a chain of two match tasks: the second goes to matchflow's own queue, and get() returns matchflow's result for it", async () => {
    const [, answer] = await pythonSend("chain-matches", [makeMatch("pair", 1), makeMatch("pair", 2)]);
    const got = JSON.parse(answer ?? "null") as { ok: boolean; result: unknown };
    expect(got, answer).toEqual({ ok: true, result: { match_id: expect.any(Number) as number, status: "created", external_match_id: "pair-2" } });
    expect((await t.rows("pair")).total).toBe(2);
  });

  it("link callbacks on success (not the errback), with derived ids; a group callback fans out with its group id and indexes", async () => {
    const [taskId] = await pythonSend("link", makeMatch("link", 1));
    await waitFor("the link callback", () => ofParent(taskId!)().length >= 1, { details: () => celery.output() });
    const [linked] = ofParent(taskId!)();
    // The time limits arrive as numbers (untyped, 300 reached py-amqp as a short string and killed the worker).
    expect(linked).toMatchObject({ task: "notify.record", id: derivedTaskId(taskId!, "callback.0"), root_id: taskId, timelimit: [300, 200] });
    expect(linked?.args).toEqual([{ match_id: expect.any(Number) as number, status: "created", external_match_id: "link-1" }, "linked"]);

    const [groupTask] = await pythonSend("link-group", makeMatch("link", 2));
    await waitFor("both members of the group", () => ofParent(groupTask!)().length >= 2, { details: () => celery.output() });
    const members = ofParent(groupTask!)().sort((a, b) => (a.group_index ?? 0) - (b.group_index ?? 0));
    expect(members.map((m) => [m.args[1], m.group_index])).toEqual([["a", 0], ["b", 1]]);
    expect(new Set(members.map((m) => m.group)).size).toBe(1);
    expect(members[0]?.group).toBeTruthy();
    // Settled for good: nothing left unacked, no errback ran.
    await waitFor("the tasks acked", async () => (await t.ready("matches")) === 0);
    expect(seen().filter((s) => s.task === "notify.failed")).toEqual([]);
  });

  it("a callback's own args arrive as the producer wrote them: floats stay floats (1.0, -0.0), an int past 2^53 keeps every digit", async () => {
    const [taskId] = await pythonSend("link-numbers", makeMatch("numbers", 1));
    await waitFor("the link callback", () => ofParent(taskId!)().length >= 1, { details: () => celery.output() });
    const [linked] = ofParent(taskId!)();
    expect(linked?.args_json).toMatch(/, 1\.0, 18446744073709551617, -0\.0, 2\.5\]$/);
    // time_limit=300.0 (a float in the signature's options) is read as 300 seconds.
    expect(linked).toMatchObject({ task: "notify.record", timelimit: [300, null] });
  });

  it("a callback whose signature names an exchange and a routing key goes there (a topic exchange bound to the Celery worker's queue)", async () => {
    await withChannel(async (ch) => {
      await ch.assertExchange("notify.topic", "topic", { durable: true });
      await ch.bindQueue("celery", "notify.topic", "notify.#");
    });
    const [taskId] = await pythonSend("link-exchange", makeMatch("routed", 1));
    await waitFor("the routed callback", () => ofParent(taskId!)().length >= 1, { details: () => celery.output() });
    expect(ofParent(taskId!)()).toEqual([expect.objectContaining({ task: "notify.record", exchange: "notify.topic", routing_key: "notify.record.routed" })]);
    expect(ofParent(taskId!)()[0]?.args[1]).toBe("routed");
  });

  it("a callback to an exchange that does not exist yet holds its task (the worker's other copies unharmed), then one with no queue bound for its key, until both are there", async () => {
    await withChannel(async (ch) => {
      const callback = { task: "notify.record", args: ["via"], kwargs: {}, options: { exchange: "notify.later", routing_key: "via.later" }, subtask_type: null, immutable: false };
      const held = encodeTaskV2({ taskName: TASK, taskId: "via-task", args: [makeMatch("via", 1)], embed: { callbacks: [callback], errbacks: null, chain: null, chord: null } });
      ch.publish("matches", "matches.process", held.content, held.properties);
      await ch.waitForConfirms();
      await worker.waitForLog((l) => l.msg === 'Celery follow-up returned unroutable: exchange "notify.later" does not exist (declare it and bind a queue, or start the Celery worker that does); publishing it again (the task stays unacked until then)' && l.exchange === "notify.later");
      // The check did not cost the worker's confirm channel: a poison task beside it is dead-lettered.
      const poison = encodeTaskV2({ taskName: TASK, taskId: "via-poison", args: [{ home_team: "only" }] });
      ch.publish("matches", "matches.process", poison.content, poison.properties);
      await ch.waitForConfirms();
      await waitFor("the poison task dead-lettered", async () => (await t.peek()).some((l) => l.headers.id === "via-poison"), { attempts: 300, intervalMs: 100 });
      await ch.assertExchange("notify.later", "direct", { durable: true });
      await worker.waitForLog((l) => l.msg === 'Celery follow-up returned unroutable: no queue is bound to exchange "notify.later" with routing key "via.later" (declare it and bind a queue, or start the Celery worker that does); publishing it again (the task stays unacked until then)');
      await ch.assertQueue("via.later", { durable: true });
      await ch.bindQueue("via.later", "notify.later", "via.later");
      await waitFor("the callback in its queue", async () => (await t.ready("via.later")) === 1, { attempts: 400, intervalMs: 100 });
      const [callbackMsg] = await t.peek("via.later");
      expect(callbackMsg?.headers).toMatchObject({ task: "notify.record", id: derivedTaskId("via-task", "callback.0"), parent_id: "via-task" });
      await waitFor("the task acked", async () => (await t.vhost.queue("matches"))?.messages_unacknowledged === 0, { attempts: 300, intervalMs: 100 });
    });
  });

  it("a dead-lettered task sends its link_error errback with its id, and no link callback", async () => {
    const [taskId] = await pythonSend("link", { home_team: "IFA", match_date: "2025-10-18" });
    await waitFor("the errback", () => ofParent(taskId!)().length >= 1, { details: () => celery.output() });
    expect(ofParent(taskId!)()).toEqual([expect.objectContaining({ task: "notify.failed", args: [taskId], id: derivedTaskId(taskId!, "errback.0") })]);
    const letters = await t.peek();
    expect(letters.map((l) => l.headers.id)).toContain(taskId);
  });

  it("a callback to a queue that does not exist yet holds the task unacked (an error logged) until the queue exists, then is delivered there", async () => {
    const conn = await connect(t.vhost.url);
    try {
      const ch = await conn.createConfirmChannel();
      const callback = { task: "notify.record", args: ["late"], kwargs: {}, options: { queue: "later" }, subtask_type: null, immutable: false };
      const msg = encodeTaskV2({ taskName: TASK, taskId: "late-task", args: [makeMatch("late", 1)], embed: { callbacks: [callback], errbacks: null, chain: null, chord: null } });
      ch.publish("matches", "matches.process", msg.content, msg.properties);
      await ch.waitForConfirms();
      await worker.waitForLog((l) => typeof l.msg === "string" && l.msg.startsWith("Celery follow-up returned unroutable") && l.queue === "later");
      expect((await t.rows("late")).total).toBe(1);
      // Stored, not acked: the task is still the broker's (unacked), so a crash now loses nothing.
      // (The management API samples its counts every few seconds.)
      const unacked = async () => (await t.vhost.queue("matches"))?.messages_unacknowledged;
      await waitFor("the task held unacked", async () => (await unacked()) === 1, { attempts: 300, intervalMs: 100 });
      await ch.assertQueue("later", { durable: true });
      await waitFor("the callback in its queue", async () => (await t.ready("later")) === 1, { attempts: 400, intervalMs: 100 });
      await waitFor("the task acked", async () => (await unacked()) === 0, { attempts: 300, intervalMs: 100 });
      const [callbackMsg] = await t.peek("later");
      expect(callbackMsg?.headers).toMatchObject({ task: "notify.record", id: derivedTaskId("late-task", "callback.0"), parent_id: "late-task" });
    } finally {
      await conn.close();
    }
  });
});

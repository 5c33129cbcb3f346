import { describe, expect, it } from "vitest";
import { derivedTaskId, MAX_FOLLOW_UPS, planOnFailure, planOnSuccess, type FollowUp } from "../../src/celery/canvas.js";
import { decodeTask, encodeTaskV1, encodeTaskV2, type TaskEnvelope } from "../../src/celery/codec.js";

const TASK = "celery_tasks.match_tasks.process_match_data";
const NOW = Date.parse("2026-11-01T12:00:00Z");
const context = { defaultQueue: "celery", now: NOW };
const match = { external_match_id: "100436", home_team: "IFA", away_team: "NEFC", match_date: "2026-10-18" };
const result = { match_id: 7, status: "created", external_match_id: "100436" };

/** A serialised signature as Celery 5.2 writes it (`dict(sig)`). */
function sig(task: string, extra: { args?: unknown[]; kwargs?: Record<string, unknown>; options?: Record<string, unknown>; subtask_type?: string | null; immutable?: boolean } = {}) {
  return { task, args: extra.args ?? [], kwargs: extra.kwargs ?? {}, options: extra.options ?? {}, subtask_type: extra.subtask_type ?? null, immutable: extra.immutable ?? false };
}

function envelopeWith(embed: Record<string, unknown>, taskId = "task-1"): TaskEnvelope {
  const msg = encodeTaskV2({ taskName: TASK, taskId, args: [match], rootId: "root-1", embed });
  return decodeTask(msg.content, msg.properties, { maxBytes: 1_048_576 });
}

/** A follow-up as the Celery worker that takes it reads it. */
function read(f: FollowUp) {
  const t = decodeTask(f.message.content, f.message.properties, { maxBytes: 1_048_576 });
  return { name: t.taskName, id: t.taskId, queue: f.queue, args: t.args, kwargs: t.kwargs, parentId: t.parentId, rootId: t.rootId, replyTo: t.replyTo, embed: t.embed, headers: t.headers };
}

describe("planOnSuccess", () => {
  it("sends each link callback with the return value first in its args, parent and root set, to its queue or the default one", () => {
    const plan = planOnSuccess(envelopeWith({ callbacks: [sig("notify.done", { args: ["extra"], kwargs: { k: 1 } }), sig("notify.other", { options: { queue: "other" } })], errbacks: [sig("notify.failed")], chain: null, chord: null }), result, context);
    expect(plan.notRun).toEqual([]);
    const [first, second] = plan.followUps.map(read);
    expect(first).toMatchObject({ name: "notify.done", queue: "celery", args: [result, "extra"], kwargs: { k: 1 }, parentId: "task-1", rootId: "root-1", replyTo: null });
    expect(second).toMatchObject({ name: "notify.other", queue: "other", args: [result] });
    expect(plan.followUps.map((f) => f.role)).toEqual(["callback", "callback"]);
  });

  it("sends several callbacks as Celery's worker does, the plain ones as one group (an id, an index each), a group callback as its own group; a single callback alone", () => {
    const own = sig("celery.group", { subtask_type: "group", kwargs: { tasks: [sig("g.a")] }, options: { task_id: "own-group" } });
    const plan = planOnSuccess(envelopeWith({ callbacks: [sig("a.a"), own, sig("b.b")] }), result, context);
    expect(plan.followUps.map(read).map((t) => [t.name, t.headers.group, t.headers.group_index])).toEqual([
      ["a.a", derivedTaskId("task-1", "callback.group"), 0],
      ["g.a", "own-group", 0],
      ["b.b", derivedTaskId("task-1", "callback.group"), 1],
    ]);
    const single = read(planOnSuccess(envelopeWith({ callbacks: [sig("a.a")] }), result, context).followUps[0] as FollowUp);
    expect(single.headers).not.toHaveProperty("group");
  });

  it("gives a callback without a task_id one derived from the task's id and its place: the same on a redelivery, different per callback and per task", () => {
    const embed = { callbacks: [sig("a.a"), sig("b.b")], errbacks: null, chain: null, chord: null };
    const ids = planOnSuccess(envelopeWith(embed), result, context).followUps.map((f) => f.taskId);
    expect(planOnSuccess(envelopeWith(embed), result, context).followUps.map((f) => f.taskId)).toEqual(ids);
    expect(new Set([...ids, ...planOnSuccess(envelopeWith(embed, "task-2"), result, context).followUps.map((f) => f.taskId)]).size).toBe(4);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ids[0]).toBe(derivedTaskId("task-1", "callback.0"));
  });

  it("an immutable callback (.si) keeps its own args only", () => {
    const plan = planOnSuccess(envelopeWith({ callbacks: [sig("notify.si", { args: [1], immutable: true })] }), result, context);
    expect(read(plan.followUps[0] as FollowUp).args).toEqual([1]);
  });

  it("sends the chain's next step (the last item: Celery stores a chain reversed) with its frozen id and reply_to, and the rest of the chain with it", () => {
    const third = sig("notify.third", { options: { queue: "other", task_id: "id-3", reply_to: "caller-oid" } });
    const second = sig("notify.done", { args: ["extra"], kwargs: { k: 1 }, options: { task_id: "id-2", reply_to: "caller-oid" } });
    const plan = planOnSuccess(envelopeWith({ callbacks: null, errbacks: null, chain: [third, second], chord: null }), result, context);
    expect(plan.notRun).toEqual([]);
    expect(plan.followUps).toHaveLength(1);
    const next = read(plan.followUps[0] as FollowUp);
    expect(next).toMatchObject({ name: "notify.done", id: "id-2", queue: "celery", args: [result, "extra"], replyTo: "caller-oid", parentId: "task-1", rootId: "root-1" });
    expect(next.embed).toEqual({ callbacks: null, errbacks: null, chain: [third], chord: null });
    expect(plan.followUps[0]?.role).toBe("chain");
  });

  it("routes a follow-up of matchflow's own task that names no queue (a chain of match tasks) to the work exchange, as the producer's task_routes would", () => {
    const own = { taskName: TASK, exchange: "matches", routingKey: "matches.process", queue: "matches" };
    const step = sig(TASK, { args: [match], immutable: true, options: { task_id: "id-2" } });
    const f = planOnSuccess(envelopeWith({ chain: [step], callbacks: [sig("other.task")] }), result, { ...context, own }).followUps.find((x) => x.role === "chain");
    expect(f).toMatchObject({ exchange: "matches", routingKey: "matches.process", queue: "matches", own: true, taskId: "id-2" });
    expect(read(f as FollowUp).args).toEqual([match]);
    const other = planOnSuccess(envelopeWith({ callbacks: [sig("other.task"), sig(TASK, { options: { queue: "elsewhere" } })] }), result, { ...context, own }).followUps;
    expect(other.map((x) => [x.exchange, x.routingKey, x.own])).toEqual([
      ["", "celery", false],
      ["", "elsewhere", false],
    ]);
  });

  it("sends a signature that names an exchange and a routing key there, as Celery's send_task does; one of them alone is ignored with a direct exchange", () => {
    const own = { taskName: TASK, exchange: "matches", routingKey: "matches.process", queue: "matches" };
    const routed = (options: Record<string, unknown>) => planOnSuccess(envelopeWith({ callbacks: [sig("notify.record", { options })] }), result, { ...context, own });
    const route = (options: Record<string, unknown>) => routed(options).followUps.map((f) => [f.exchange, f.routingKey, f.queue, f.own]);
    expect(route({ exchange: "notify", routing_key: "notify.record.done" })).toEqual([["notify", "notify.record.done", undefined, false]]);
    // Named with its queue too: the exchange and key still decide (Celery declares the queue, we do not).
    expect(route({ exchange: "notify", routing_key: "k", queue: "elsewhere" })).toEqual([["notify", "k", undefined, false]]);
    // A serialised kombu Exchange carries its name.
    expect(route({ exchange: { name: "notify", type: "topic" }, routing_key: "k" })).toEqual([["notify", "k", undefined, false]]);
    expect(route({ exchange: "notify" })).toEqual([["", "celery", "celery", false]]);
    expect(route({ routing_key: "k", queue: "q" })).toEqual([["", "q", "q", false]]);
    expect(route({ exchange: "", routing_key: "k" })).toEqual([["", "celery", "celery", false]]);
    // Another exchange type takes the exchange alone, with an empty key when none is given.
    expect(route({ exchange: "fan", exchange_type: "fanout" })).toEqual([["fan", "", undefined, false]]);
    expect(route({ exchange: "topic", exchange_type: "topic", routing_key: "a.b" })).toEqual([["topic", "a.b", undefined, false]]);
    // matchflow's own exchange and key: its own queue, which the worker re-declares when missing.
    expect(route({ exchange: "matches", routing_key: "matches.process" })).toEqual([["matches", "matches.process", "matches", true]]);
    // Names that are not names are reported, not sent somewhere else.
    for (const [options, why] of [
      [{ exchange: 7, routing_key: "k" }, "exchange is not an exchange name"],
      [{ exchange: "x".repeat(256), routing_key: "k" }, "exchange is not an exchange name"],
      [{ exchange: "notify", routing_key: ["k"] }, "routing_key is not a routing key of at most 255 bytes"],
    ] as const) {
      const plan = routed(options);
      expect(plan.followUps).toEqual([]);
      expect(plan.notRun).toEqual([{ part: "callbacks", reason: `signature notify.record: ${why}` }]);
    }
  });

  it("reads an eta and expires kombu >= 5.3 wrote tagged ({__type__: datetime}): the follow-up waits and expires as asked", () => {
    const at = { __type__: "datetime", __value__: "2030-01-01T00:00:00+00:00" };
    const step = sig("notify.later", { options: { task_id: "id-3", eta: at, expires: { ...at, __value__: "2030-01-02T00:00:00+00:00" } } });
    const next = read(planOnSuccess(envelopeWith({ chain: [step] }), result, context).followUps[0] as FollowUp);
    expect(next.headers).toMatchObject({ eta: "2030-01-01T00:00:00+00:00", expires: "2030-01-02T00:00:00+00:00" });
  });

  it("carries a step's own link, link_error, countdown, expires, priority, time limits and shadow as Celery's send_task would", () => {
    const step = sig("notify.done", { options: { task_id: "id-2", link: sig("x.after"), link_error: [sig("x.err")], countdown: 30, expires: 3600, priority: 5, time_limit: 60, soft_time_limit: 50, shadow: "nice name", ignore_result: true } });
    const f = planOnSuccess(envelopeWith({ chain: [step] }), result, context).followUps[0] as FollowUp;
    const next = read(f);
    expect(next.embed).toEqual({ callbacks: [sig("x.after")], errbacks: [sig("x.err")], chain: null, chord: null });
    expect(next.headers).toMatchObject({ eta: "2026-11-01T12:00:30.000+00:00", expires: "2026-11-01T13:00:00.000+00:00", timelimit: [60, 50], shadow: "nice name", ignore_result: true });
    expect(f.message.properties.priority).toBe(5);
    expect(f.message.properties.expiration).toBe("3600000");
  });

  it("fans a group callback out into its members, each with the value, the group's id and its index", () => {
    const group = sig("celery.group", { subtask_type: "group", kwargs: { tasks: [sig("a.a"), sig("b.b", { args: [2] })] }, options: { task_id: "group-1" } });
    const plan = planOnSuccess(envelopeWith({ callbacks: [group] }), result, context);
    expect(plan.notRun).toEqual([]);
    expect(plan.followUps.map(read).map((t) => [t.name, t.args, t.headers.group, t.headers.group_index])).toEqual([
      ["a.a", [result], "group-1", 0],
      ["b.b", [result, 2], "group-1", 1],
    ]);
  });

  it("a group as a chain's last step fans out with the value; with steps after it (Celery's chord) it is reported", () => {
    const group = sig("celery.group", { subtask_type: "group", kwargs: { tasks: [sig("a.a"), sig("b.b")] }, options: { task_id: "g-last" } });
    const last = planOnSuccess(envelopeWith({ chain: [group] }), result, context);
    expect(last.notRun).toEqual([]);
    expect(last.followUps.map(read).map((t) => [t.name, t.args, t.headers.group])).toEqual([
      ["a.a", [result], "g-last"],
      ["b.b", [result], "g-last"],
    ]);
    const before = planOnSuccess(envelopeWith({ chain: [sig("after.group"), group] }), result, context);
    expect(before.followUps).toEqual([]);
    expect(before.notRun.map((n) => n.part)).toEqual(["chain"]);
  });

  it("starts a chain callback at its first step, the others stored reversed after it", () => {
    const chain = sig("celery.chain", { subtask_type: "chain", kwargs: { tasks: [sig("a.a"), sig("b.b"), sig("c.c")] } });
    const plan = planOnSuccess(envelopeWith({ callbacks: [chain] }), result, context);
    const first = read(plan.followUps[0] as FollowUp);
    expect(first).toMatchObject({ name: "a.a", args: [result] });
    expect((first.embed?.chain as { task: string }[]).map((s) => s.task)).toEqual(["c.c", "b.b"]);
  });

  it("reports what it cannot run instead of sending it: a chord the task belongs to, a chord signature, a malformed signature, a bad task_id or queue", () => {
    const plan = planOnSuccess(
      envelopeWith({
        callbacks: [sig("celery.chord", { subtask_type: "chord", kwargs: { header: [], body: sig("b.b") } }), { args: [] }, sig("x.x", { options: { task_id: "x".repeat(300) } }), sig("y.y", { options: { queue: 7 } }), sig("ok.ok")],
        chord: sig("body.task"),
      }),
      result,
      context,
    );
    expect(plan.followUps.map((f) => f.taskName)).toEqual(["ok.ok"]);
    expect(plan.notRun.map((n) => n.part)).toEqual(["callbacks", "callbacks", "callbacks", "callbacks", "chord"]);
    expect(plan.notRun.map((n) => n.reason).join("\n")).toMatch(/chord signature[\s\S]*without a task name[\s\S]*task_id[\s\S]*queue[\s\S]*result backend/);
  });

  it("a task with no canvas plans nothing; errbacks are not a success's business", () => {
    expect(planOnSuccess(envelopeWith({ callbacks: null, errbacks: [sig("e.e")], chain: null, chord: null }), result, context)).toEqual({ followUps: [], notRun: [] });
  });

  it(`sends none of a canvas that fans out into more than ${MAX_FOLLOW_UPS} tasks, and says so once`, () => {
    const group = sig("celery.group", { subtask_type: "group", kwargs: { tasks: Array.from({ length: MAX_FOLLOW_UPS + 1 }, (_, i) => sig(`t.${i}`)) } });
    const plan = planOnSuccess(envelopeWith({ callbacks: [group] }), result, context);
    expect(plan.followUps).toEqual([]);
    expect(plan.notRun).toEqual([{ part: "callbacks", reason: `more than ${MAX_FOLLOW_UPS} follow-up tasks: none sent` }]);
  });

  it("reads protocol 1's callbacks from the body", () => {
    const msg = encodeTaskV1({ taskName: TASK, taskId: "v1-task", args: [match], embed: { callbacks: [sig("notify.done")] } });
    const plan = planOnSuccess(decodeTask(msg.content, msg.properties, { maxBytes: 1_048_576 }), result, context);
    expect(read(plan.followUps[0] as FollowUp)).toMatchObject({ name: "notify.done", args: [result], parentId: "v1-task", rootId: "v1-task" });
  });
});

describe("planOnFailure", () => {
  it("sends each errback with the failed task's id as its first arg (an errback the worker has not registered), and no callback or chain step", () => {
    const plan = planOnFailure(envelopeWith({ callbacks: [sig("notify.done")], errbacks: [sig("notify.failed", { args: ["why"] })], chain: [sig("next.step")], chord: null }), context);
    expect(plan.notRun).toEqual([]);
    expect(plan.followUps.map((f) => f.role)).toEqual(["errback"]);
    expect(read(plan.followUps[0] as FollowUp)).toMatchObject({ name: "notify.failed", args: ["task-1", "why"], parentId: "task-1", rootId: "root-1" });
  });

  it("sends the errbacks as one group, as Celery's worker does (a single one too), a group errback's members unrolled into it", () => {
    // Celery's group unrolls a group it holds (canvas.py `_prepared`): its members join the outer
    // group, the inner group's id and own args dropped, nested groups too.
    const nested = sig("celery.group", { subtask_type: "group", kwargs: { tasks: [sig("n.a")] } });
    const own = sig("celery.group", { subtask_type: "group", args: ["dropped"], kwargs: { tasks: [sig("g.a"), nested] }, options: { task_id: "own-group" } });
    const plan = planOnFailure(envelopeWith({ errbacks: [sig("e.a"), own, sig("e.b")] }), context);
    const group = derivedTaskId("task-1", "errback.group");
    expect(plan.followUps.map(read).map((t) => [t.name, t.args, t.headers.group, t.headers.group_index])).toEqual([
      ["e.a", ["task-1"], group, 0],
      ["g.a", ["task-1"], group, 1],
      ["n.a", ["task-1"], group, 2],
      ["e.b", ["task-1"], group, 3],
    ]);
    expect(new Set(plan.followUps.map((f) => read(f).id)).size).toBe(4);
    const single = read(planOnFailure(envelopeWith({ errbacks: [sig("e.a")] }), context).followUps[0] as FollowUp);
    expect(single.headers).toMatchObject({ group: derivedTaskId("task-1", "errback.group"), group_index: 0 });
  });
});

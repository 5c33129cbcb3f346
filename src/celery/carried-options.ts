/**
 * The options of a task that a copy of it must keep when it is re-encoded (the worker's retry,
 * `dlq requeue`): Celery's own retry keeps them (`Task.signature_from_request`). Without them a
 * task sent with `ignore_result=True` came back with `ignore_result` false, and a worker with
 * RESULT_BACKEND=rpc sent it a reply nobody waited for.
 */
import type { TaskInput } from "./codec.js";
import type { TaskEnvelope } from "./decode.js";

type CarriedOptions = Pick<TaskInput, "ignoreResult" | "priority" | "shadow" | "groupId" | "groupIndex" | "timeLimit">;

/** AMQP's priority range (RabbitMQ caps it at the queue's x-max-priority). */
const MAX_PRIORITY = 255;

function timeLimitOf(value: unknown): CarriedOptions["timeLimit"] {
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [soft, hard] = value as unknown[];
  const limit = (t: unknown) => (typeof t === "number" && Number.isFinite(t) && t >= 0 ? t : null);
  const pair = [limit(soft), limit(hard)] as const;
  return pair[0] === null && pair[1] === null ? undefined : pair;
}

/** `priority`: the delivered message's AMQP priority property, if it had one. */
export function carriedTaskOptions(envelope: TaskEnvelope, priority: unknown): CarriedOptions {
  const h = envelope.headers;
  const out: CarriedOptions = {};
  if (h.ignore_result === true) out.ignoreResult = true;
  if (typeof priority === "number" && Number.isInteger(priority) && priority > 0 && priority <= MAX_PRIORITY) out.priority = priority;
  if (typeof h.shadow === "string" && h.shadow !== "") out.shadow = h.shadow;
  if (typeof h.group === "string" && h.group !== "") out.groupId = h.group;
  if (typeof h.group_index === "number" && Number.isInteger(h.group_index) && h.group_index >= 0) out.groupIndex = h.group_index;
  const timeLimit = timeLimitOf(h.timelimit);
  if (timeLimit) out.timeLimit = timeLimit;
  return out;
}

/**
 * What a log line about a whole batch says of its tasks: the batch's size and the ids of its
 * first tasks. Per-task lines carry their task id; the lines about a batch (the database
 * unreachable or refusing writes, a transaction failing) named none, so a task could not be
 * followed through an outage. The first NAMED_TASK_IDS, not all: a batch holds up to
 * WORKER_BATCH_SIZE (400) tasks. Task ids are at most MAX_TASK_ID_BYTES (the decoder's bound).
 */
import type { Prepared } from "./prepare.js";

export const NAMED_TASK_IDS = 10;

export interface BatchLogFields {
  batch: number;
  taskIds: string[];
}

/** `size`: the batch's deliveries; `good` and `bad`: what they decoded into, in delivery order each. */
export function batchLogFields(size: number, good: readonly Prepared[], bad: readonly Prepared[]): BatchLogFields {
  const taskIds: string[] = [];
  for (const list of [good, bad]) {
    for (const p of list) {
      if (taskIds.length >= NAMED_TASK_IDS) return { batch: size, taskIds };
      if (p.envelope) taskIds.push(p.envelope.taskId);
    }
  }
  return { batch: size, taskIds };
}

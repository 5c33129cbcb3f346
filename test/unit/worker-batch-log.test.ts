/** The task ids a batch-level log line names: the first ten of the batch, valid ones first. */
import { describe, expect, it } from "vitest";
import { batchLogFields, NAMED_TASK_IDS } from "../../src/worker/batch-log.js";
import type { Prepared } from "../../src/worker/prepare.js";

const task = (taskId: string) => ({ envelope: { taskId } }) as unknown as Prepared;
const undecodable = { envelope: undefined } as unknown as Prepared;

describe("batchLogFields", () => {
  it("names the batch's tasks, the decoded refused ones after the valid ones, and skips what had no envelope", () => {
    expect(batchLogFields(4, [task("a"), task("b")], [undecodable, task("c")])).toEqual({ batch: 4, taskIds: ["a", "b", "c"] });
  });

  it(`names at most ${NAMED_TASK_IDS} of a 400-task batch`, () => {
    const good = Array.from({ length: 400 }, (_, i) => task(`t${i}`));
    expect(batchLogFields(400, good, [task("bad")])).toEqual({ batch: 400, taskIds: Array.from({ length: NAMED_TASK_IDS }, (_, i) => `t${i}`) });
  });
});

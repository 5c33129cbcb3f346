/**
 * A retry and a `dlq requeue` of a protocol 2 task send its body as it came: written again from
 * what JSON.parse read, Python's numbers changed (1.0 as 1, an int past 2^53 with other digits, a
 * NaN as null). A compressed body goes back compressed, with its `compression` header.
 */
import { deflateSync, inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { decodeTask } from "../../src/celery/codec.js";
import { PermanentError, TransientError } from "../../src/errors.js";
import { buildRequeueMessage } from "../../src/ops/dead-letter-message.js";
import { buildDeadLetter, buildEtaCopy, buildRetryMessage } from "../../src/worker/outgoing.js";
import { prepareMessage } from "../../src/worker/prepare.js";
import type { InboundMessage } from "../../src/worker/transport.js";

const TASK = "celery_tasks.match_tasks.process_match_data";
const NOW = Date.parse("2026-11-01T12:00:00Z");
// What Python's json.dumps writes for a match with a float, a 64-bit id and a NaN in fields outside the contract.
const PYTHON_BODY = '[[{"home_team": "IFA", "away_team": "NEFC", "match_date": "2026-10-18", "age_group": "U14", "match_type": "League", "external_match_id": "100436", "rating": 1.0, "feed_id": 12345678901234567890, "attendance": NaN}], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]';

function delivery(content: Buffer, headers: Record<string, unknown> = {}): InboundMessage {
  const properties = { contentType: "application/json", contentEncoding: "utf-8", correlationId: "task-1", headers: { lang: "py", task: TASK, id: "task-1", retries: 0, root_id: "task-1", ...headers } };
  return { content, properties: properties, exchange: "matches", routingKey: "matches.process", redelivered: false, receivedAt: NOW, token: undefined };
}

function retryOf(message: InboundMessage) {
  const p = prepareMessage(message, { taskName: TASK, maxMessageBytes: 1 << 20, now: NOW });
  if (!p.ok) throw new Error(`expected a valid task: ${p.error.message}`);
  return buildRetryMessage(p.envelope, message, new TransientError("db_deadlock", "deadlock detected"), 1, 1000, NOW);
}

describe("a task sent again", () => {
  it("a retry sends the body byte for byte as it came (numbers as Python wrote them), headers renewed", () => {
    const retry = retryOf(delivery(Buffer.from(PYTHON_BODY)));
    expect(retry.content.toString("utf8")).toBe(PYTHON_BODY);
    expect(decodeTask(retry.content, retry.properties, { maxBytes: 1 << 20 })).toMatchObject({ taskId: "task-1", retries: 1 });
  });

  it("a dlq requeue too", () => {
    const out = buildRequeueMessage({ content: Buffer.from(PYTHON_BODY), properties: delivery(Buffer.from(PYTHON_BODY)).properties }, { deadLetterQueue: "matches.dead_letter", maxBytes: 1 << 20 });
    expect(out.content.toString("utf8")).toBe(PYTHON_BODY);
  });

  it("a compressed body is sent again as it came, still compressed, with its compression header (numbers as Python wrote them)", () => {
    const compressed = deflateSync(PYTHON_BODY);
    const retry = retryOf(delivery(compressed, { compression: "application/x-gzip" }));
    expect(retry.content.equals(compressed)).toBe(true);
    expect(retry.properties.headers?.compression).toBe("application/x-gzip");
    expect(inflateSync(retry.content).toString("utf8")).toBe(PYTHON_BODY);
    const again = decodeTask(retry.content, retry.properties, { maxBytes: 1 << 20 });
    expect(again).toMatchObject({ taskId: "task-1", retries: 1 });
    expect(again.args[0]).toMatchObject({ external_match_id: "100436", attendance: null });

    const requeued = buildRequeueMessage({ content: compressed, properties: delivery(compressed, { compression: "application/x-gzip" }).properties }, { deadLetterQueue: "matches.dead_letter", maxBytes: 1 << 20 });
    expect(requeued.content.equals(compressed)).toBe(true);
    expect((requeued.options.headers as Record<string, unknown> | undefined)?.compression).toBe("application/x-gzip");
  });

  it("the compression header is kept when a copy's headers must be cut to fit the frame_max: without it the body is unreadable", () => {
    const compressed = deflateSync(PYTHON_BODY);
    const message = delivery(compressed, { compression: "application/x-gzip", "x-pad": "p".repeat(20_000), argsrepr: "a".repeat(3000) });
    const p = prepareMessage(message, { taskName: TASK, maxMessageBytes: 1 << 20, now: NOW });
    if (!p.ok) throw new Error(p.error.message);
    // A frame too small for all but the headers never dropped: every other one goes.
    const tiny = 600;
    const retry = buildRetryMessage(p.envelope, message, new TransientError("db_deadlock", "deadlock detected"), 1, 1000, NOW, tiny);
    expect(retry.droppedHeaders.length).toBeGreaterThan(0);
    expect(retry.properties.headers?.compression).toBe("application/x-gzip");
    const dead = buildDeadLetter(message, new PermanentError("contract_invalid", "no"), 1, NOW, tiny);
    expect(dead.droppedHeaders).toEqual(expect.arrayContaining(["x-pad", "argsrepr", "task"]));
    expect(dead.properties.headers?.compression).toBe("application/x-gzip");
    const eta = buildEtaCopy(message, tiny);
    expect(eta.droppedHeaders).toContain("argsrepr");
    expect(eta.properties.headers?.compression).toBe("application/x-gzip");
  });

  it("a hybrid message (task header over a protocol 1 body) is retried as a plain protocol 1 task counting on: no header left to override its retries", () => {
    const body = JSON.stringify({ task: TASK, id: "task-1", args: [{ home_team: "IFA", away_team: "NEFC", match_date: "2026-10-18", age_group: "U14", match_type: "League" }], kwargs: {}, retries: 0 });
    const first = retryOf(delivery(Buffer.from(body), { retries: 3 }));
    const again = decodeTask(first.content, first.properties, { maxBytes: 1 << 20 });
    expect(again).toMatchObject({ protocol: 1, taskId: "task-1", retries: 1 });
    expect(first.properties.headers?.task).toBeUndefined();
  });
});

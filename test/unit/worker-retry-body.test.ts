/**
 * A retry and a `dlq requeue` of a protocol 2 task send its body as it came: written again from
 * what JSON.parse read, Python's numbers changed (1.0 as 1, an int past 2^53 with other digits, a
 * NaN as null). A compressed body is sent again uncompressed, re-encoded, as before.
 */
import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { decodeTask } from "../../src/celery/codec.js";
import { TransientError } from "../../src/errors.js";
import { buildRequeueMessage } from "../../src/ops/dead-letter-message.js";
import { buildRetryMessage } from "../../src/worker/outgoing.js";
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

  it("a compressed body is sent again decompressed and re-encoded, without the compression header", () => {
    const retry = retryOf(delivery(deflateSync(PYTHON_BODY), { compression: "application/x-gzip" }));
    expect(retry.properties.headers?.compression).toBeUndefined();
    const again = decodeTask(retry.content, retry.properties, { maxBytes: 1 << 20 });
    expect(again.args[0]).toMatchObject({ external_match_id: "100436", attendance: null });
  });

  it("a hybrid message (task header over a protocol 1 body) is retried as a plain protocol 1 task counting on: no header left to override its retries", () => {
    const body = JSON.stringify({ task: TASK, id: "task-1", args: [{ home_team: "IFA", away_team: "NEFC", match_date: "2026-10-18", age_group: "U14", match_type: "League" }], kwargs: {}, retries: 0 });
    const first = retryOf(delivery(Buffer.from(body), { retries: 3 }));
    const again = decodeTask(first.content, first.properties, { maxBytes: 1 << 20 });
    expect(again).toMatchObject({ protocol: 1, taskId: "task-1", retries: 1 });
    expect(first.properties.headers?.task).toBeUndefined();
  });
});

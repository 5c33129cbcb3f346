/**
 * Real messages against the published JSON Schema: every task `matchflow scrape` publishes from
 * the recorded sample, taken off the queue and decoded, carries a first argument that
 * schema/match-data.v1.json (Ajv, draft 2020-12, formats checked) accepts. The original's
 * published schema did not match its own messages; a Python Celery producer's are checked in
 * celery-interop-producer.test.ts.
 */
import { connect } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeTask } from "../../src/celery/codec.js";
import { runCli } from "../helpers/cli.js";
import { schemaErrors } from "../helpers/json-schema.js";
import { createVhost, type TestVhost } from "../helpers/rabbit.js";

let vhost: TestVhost;

beforeAll(async () => {
  vhost = await createVhost("schemawire");
});
afterAll(async () => {
  await vhost?.drop();
});

describe("the published JSON Schema and matchflow's own messages", () => {
  it("every match the scrape of the recorded sample publishes validates against schema/match-data.v1.json", async () => {
    const r = await runCli(["scrape", "--source-dir", "samples/mlsnext", "--season", "2026", "--format", "ndjson"], { RABBITMQ_URL: vhost.url });
    expect(r.code).toBe(0); // the summary goes to stderr when stdout carries the ndjson listing
    const published = Number(/(\d+) submitted/.exec(r.stderr)?.[1]);
    expect(published).toBeGreaterThan(50);

    const conn = await connect(vhost.url);
    const bad: { id: unknown; errors: string[] }[] = [];
    let seen = 0;
    try {
      const ch = await conn.createChannel();
      for (let m = await ch.get("matches", { noAck: true }); m; m = await ch.get("matches", { noAck: true })) {
        const match = decodeTask(m.content, m.properties, { maxBytes: 1 << 20 }).args[0] as { external_match_id?: unknown };
        seen++;
        const errors = schemaErrors(match);
        if (errors.length > 0) bad.push({ id: match.external_match_id, errors });
      }
    } finally {
      await conn.close();
    }
    expect(seen).toBe(published);
    expect(bad).toEqual([]);
  });
});

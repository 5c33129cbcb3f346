/**
 * What dlq commands print when scripts and people read them:
 * - `dlq show <id>` prints a JSON array whether one or several dead letters have that task id (a
 *   task dead-lettered twice): it printed one object for one, an array for several.
 * - `dlq list|requeue|purge --code X` that no letter has (a typo, the wrong case) says the codes
 *   present, most frequent first, and the one X differs from only in case: it said "none of the N
 *   dead letters ... has code X" and nothing to go on (list), or just "requeued 0" / "purged 0".
 */
import { connect, type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { declareTopology, topologyNames } from "../../src/broker/topology.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { loadConfig } from "../../src/config.js";
import { PermanentError, TransientError, type MatchflowError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import type { DeadLetterListing } from "../../src/ops/dead-letters.js";
import { runCli } from "../helpers/cli.js";
import { publishDeadLetter } from "../helpers/dead-letters.js";
import { makeMatch } from "../helpers/matches.js";
import { createVhost, messageCount, type TestVhost } from "../helpers/rabbit.js";

const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);
let vhost: TestVhost;
let amqp: ChannelModel;
let env: Record<string, string>;

const outage = new TransientError("db_lock_timeout", "canceling statement due to lock timeout");
const poison = new PermanentError("contract_violation", "away_team is required");
/** "twice" was dead-lettered twice (requeued, failed again): two letters with one task id. */
const LETTERS: [string, MatchflowError][] = [
  ["twice", outage],
  ["once", poison],
  ["out-2", outage],
  ["twice", outage],
];
const PRESENT = "codes present: db_lock_timeout (3), contract_violation (1)";

const ready = (queue: string): Promise<number> => messageCount(amqp, queue);

beforeAll(async () => {
  vhost = await createVhost("opsdlqhint");
  env = { RABBITMQ_URL: vhost.url };
  amqp = await connect(vhost.url);
  await declareTopology(amqp, names, { queueType: "classic", log: silentLogger });
  const ch = await amqp.createConfirmChannel();
  for (const [i, [id, why]] of LETTERS.entries()) publishDeadLetter(ch, names, encodeTaskV2({ taskName: config.topology.taskName, taskId: id, args: [makeMatch("hint", i)] }), why);
  await ch.waitForConfirms();
  await ch.close();
});

afterAll(async () => {
  await amqp?.close();
  await vhost?.drop();
});

describe("dlq show", () => {
  it("prints a JSON array for one dead letter as for several with the same task id", async () => {
    const one = await runCli(["dlq", "show", "once"], env);
    expect(one.code).toBe(0);
    const shownOne = JSON.parse(one.stdout) as { taskId: string; errorCode: string }[];
    expect(shownOne.map((d) => [d.taskId, d.errorCode])).toEqual([["once", "contract_violation"]]);
    const two = await runCli(["dlq", "show", "twice"], env);
    expect(two.code).toBe(0);
    expect((JSON.parse(two.stdout) as { taskId: string }[]).map((d) => d.taskId)).toEqual(["twice", "twice"]);
  });
});

describe("--code that no dead letter has", () => {
  it("dlq list names the codes present, and the code a wrong case stands for; exit 0", async () => {
    const typo = await runCli(["dlq", "list", "--code", "db_lock_timout"], env);
    expect(typo).toMatchObject({ code: 0, stdout: `none of the 4 dead letters in matches.dead_letter has code db_lock_timout; ${PRESENT}\n` });
    const upper = await runCli(["dlq", "list", "--code", "DB_LOCK_TIMEOUT"], env);
    expect(upper).toMatchObject({
      code: 0,
      stdout: `none of the 4 dead letters in matches.dead_letter has code DB_LOCK_TIMEOUT; DB_LOCK_TIMEOUT differs only in case from db_lock_timeout (codes are case-sensitive); ${PRESENT}\n`,
    });
    const json = JSON.parse((await runCli(["dlq", "list", "--code", "Contract_*", "--json"], env)).stdout) as DeadLetterListing;
    expect(json).toMatchObject({ matching: 0, codesPresent: [{ code: "db_lock_timeout", count: 3 }, { code: "contract_violation", count: 1 }] });
  });

  it("dlq requeue and dlq purge say the same on stderr, their count line unchanged; nothing moves, exit 0", async () => {
    const requeue = await runCli(["dlq", "requeue", "--code", "DB_*"], env);
    expect(requeue).toMatchObject({
      code: 0,
      stdout: "requeued 0 dead letters with code DB_* to exchange matches (routing key matches.process)\n",
      stderr: `none of the 4 dead letters in matches.dead_letter has code DB_*; DB_* differs only in case from db_* (codes are case-sensitive); ${PRESENT}\n`,
    });
    const purge = await runCli(["dlq", "purge", "--code", "contract_violaton", "--yes"], env);
    expect(purge).toMatchObject({
      code: 0,
      stdout: "purged 0 dead letters with code contract_violaton from matches.dead_letter\n",
      stderr: `none of the 4 dead letters in matches.dead_letter has code contract_violaton; ${PRESENT}\n`,
    });
    expect(await ready(names.deadLetterQueue)).toBe(LETTERS.length);
    expect(await ready(names.queue)).toBe(0);
    // A code that some letters have: no such note.
    const found = await runCli(["dlq", "list", "--code", "contract_violation"], env);
    expect(found.stdout).toMatch(/^1 dead letter with code contract_violation of 4 in matches\.dead_letter\n/);
  });
});

/**
 * dlq commands run by a RabbitMQ user that lacks a permission, on the real RabbitMQ: RabbitMQ
 * refuses with the same 403 ACCESS_REFUSED it uses for an exclusive consumer. Taking the lock
 * rethrew it raw (exit 70), reading the dead-letter queue called it "another client consumes it
 * exclusively" (dlq_busy, exit 1): both now say which user lacks which permission (exit 2).
 * (An exclusive consumer still reads as dlq_busy: ops-dlq-contested.test.ts.)
 */
import { connect, type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { declareTopology, topologyNames } from "../../src/broker/topology.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { loadConfig } from "../../src/config.js";
import { PermanentError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { runCli } from "../helpers/cli.js";
import { publishDeadLetter } from "../helpers/dead-letters.js";
import { makeMatch } from "../helpers/matches.js";
import { createVhost, managementApi, type TestVhost } from "../helpers/rabbit.js";
import { uniqueName } from "../helpers/services.js";

const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);
const LOCK = `${names.deadLetterQueue}.lock`;
let vhost: TestVhost;
let amqp: ChannelModel;
const users: string[] = [];

/**
 * A user with these permissions (regular expressions; "" matches nothing) on the test vhost and
 * none elsewhere; its RABBITMQ_URL. Users are broker-wide: each is named uniquely and deleted.
 */
async function userWith(configure: string, write: string, read: string): Promise<string> {
  const user = uniqueName("dlqperm");
  users.push(user);
  const put = await managementApi("PUT", `/users/${encodeURIComponent(user)}`, { password: "pw", tags: "" });
  if (!put.ok) throw new Error(`cannot create user ${user}: HTTP ${put.status}`);
  const perm = await managementApi("PUT", `/permissions/${encodeURIComponent(vhost.name)}/${encodeURIComponent(user)}`, { configure, write, read });
  if (!perm.ok) throw new Error(`cannot set permissions of ${user}: HTTP ${perm.status}`);
  const url = new URL(vhost.url);
  url.username = user;
  url.password = "pw";
  return url.toString();
}

beforeAll(async () => {
  vhost = await createVhost("opsdlqperm");
  amqp = await connect(vhost.url);
  await declareTopology(amqp, names, { queueType: "classic", log: silentLogger });
  const ch = await amqp.createConfirmChannel();
  const task = encodeTaskV2({ taskName: config.topology.taskName, taskId: "perm-1", args: [makeMatch("perm", 1)] });
  publishDeadLetter(ch, names, task, new PermanentError("contract_violation", "home_team is required"));
  await ch.waitForConfirms();
  await ch.close();
});

afterAll(async () => {
  await amqp?.close();
  for (const user of users) await managementApi("DELETE", `/users/${encodeURIComponent(user)}`);
  await vhost?.drop();
});

/** What the dead-letter queue holds, read by guest (a passive check: nothing taken). */
async function deadLettersLeft(): Promise<number> {
  const ch = await amqp.createChannel();
  try {
    return (await ch.checkQueue(names.deadLetterQueue)).messageCount;
  } finally {
    await ch.close();
  }
}

const COMMANDS = [["dlq", "list"], ["dlq", "show", "perm-1"], ["dlq", "requeue", "--all"]];

describe("dlq commands by a user without a permission they need", () => {
  it("no configure permission (the lock cannot be declared): exit 2 naming the user and the permission, not a raw 403 (exit 70)", async () => {
    const url = await userWith("", ".*", ".*");
    const user = new URL(url).username;
    for (const args of COMMANDS) {
      const run = await runCli(args, { RABBITMQ_URL: url });
      expect(run.stderr.trim(), args.join(" ")).toBe(
        `matchflow: RabbitMQ user '${user}' lacks configure permission on queue ${LOCK} in vhost '${vhost.name}' (every dlq command declares it as its lock): grant it with rabbitmqctl set_permissions (the broker said: ACCESS_REFUSED - access to queue '${LOCK}' in vhost '${vhost.name}' refused for user '${user}')`,
      );
      expect(run.stdout, args.join(" ")).toBe("");
      expect(run.code, args.join(" ")).toBe(2);
    }
    expect(await deadLettersLeft()).toBe(1);
  });

  it("no read permission on the dead-letter queue: exit 2 naming the user and the permission, not dlq_busy's 'another client consumes it exclusively' (exit 1)", async () => {
    const url = await userWith(".*", ".*", "");
    const user = new URL(url).username;
    for (const args of COMMANDS) {
      const run = await runCli(args, { RABBITMQ_URL: url });
      expect(run.stderr.trim(), args.join(" ")).toBe(
        `matchflow: RabbitMQ user '${user}' lacks read permission on queue ${names.deadLetterQueue} in vhost '${vhost.name}' (dlq commands consume it): grant it with rabbitmqctl set_permissions (the broker said: ACCESS_REFUSED - access to queue '${names.deadLetterQueue}' in vhost '${vhost.name}' refused for user '${user}')`,
      );
      expect(run.stderr, args.join(" ")).not.toContain("exclusively");
      expect(run.code, args.join(" ")).toBe(2);
    }
    expect(await deadLettersLeft()).toBe(1);
  });

  it("purging without read permission (dlq purge, queue purge): exit 2 naming the user and the permission, not a raw 403 (exit 70)", async () => {
    const url = await userWith(".*", ".*", "");
    const user = new URL(url).username;
    for (const [args, queue] of [
      [["dlq", "purge", "--yes"], names.deadLetterQueue],
      [["queue", "purge", "--yes"], names.queue],
    ] as const) {
      const run = await runCli([...args], { RABBITMQ_URL: url });
      expect(run.stderr.trim(), args.join(" ")).toBe(
        `matchflow: RabbitMQ user '${user}' lacks read permission on queue ${queue} in vhost '${vhost.name}' (purging needs it): grant it with rabbitmqctl set_permissions (the broker said: ACCESS_REFUSED - access to queue '${queue}' in vhost '${vhost.name}' refused for user '${user}')`,
      );
      expect(run.code, args.join(" ")).toBe(2);
    }
    expect(await deadLettersLeft()).toBe(1);
  });

  it("workers and revoke without a permission on Celery's remote control: exit 2 naming the user and the permission, not a raw 403 (exit 70)", async () => {
    const noConfigure = await userWith("", ".*", ".*");
    const user = new URL(noConfigure).username;
    for (const args of [["workers", "--timeout", "200ms"], ["revoke", "perm-task-1", "--timeout", "200ms"]]) {
      const run = await runCli(args, { RABBITMQ_URL: noConfigure, DATABASE_URL: "" });
      expect(run.stderr, args.join(" ")).toMatch(new RegExp(`^matchflow: RabbitMQ user '${user}' lacks configure permission in vhost '${vhost.name}' \\(workers and revoke ask the workers over Celery's remote control.*celery\\.pidbox`, "m"));
      expect(run.code, args.join(" ")).toBe(2);
    }
    // Binding its reply queue needs write on the queue and read on the exchange, not configure.
    const noRead = await userWith(".*", ".*", "");
    const workers = await runCli(["workers", "--timeout", "200ms"], { RABBITMQ_URL: noRead });
    expect(workers.stderr).toMatch(/lacks write permission on the queue \(or destination exchange\) and read permission on the exchange bound from/);
    expect(workers.code).toBe(2);
  });

  it("a queue name with RabbitMQ's reserved prefix amq. is named as such, not as a missing permission", async () => {
    const run = await runCli(["scrape", "--source-dir", "samples/mlsnext", "--season", "2026", "--age-group", "U14"], { RABBITMQ_URL: vhost.url, MATCHES_QUEUE: "amq.matches" });
    expect(run.stderr).toMatch(/queue name 'amq\.matches' starts with amq\., which RabbitMQ reserves for itself: choose another name/);
    expect(run.stderr).not.toMatch(/permission/);
    expect(run.code).toBe(2);
  });
});

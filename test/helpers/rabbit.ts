/**
 * A RabbitMQ virtual host per test file: queues and exchanges of one vhost never see another's,
 * so tests use the real names (`matches`, `matches.dead_letter`) and still run in parallel.
 */
import { connect, type ChannelModel, type ConfirmChannel, type Options } from "amqplib";
import { AMQP_BASE, RABBIT_API, uniqueName } from "./services.js";

export interface TestVhost {
  name: string;
  /** amqp URL with the vhost, for RABBITMQ_URL. */
  url: string;
  /** management API base URL, for RABBITMQ_MANAGEMENT_URL. */
  managementUrl: string;
  /**
   * Queue facts from the management API (ready, unacked, consumers, message statistics): the
   * broker's samples, every few seconds, counts and message statistics each on their own timer;
   * absent before the first sample.
   */
  queue(name: string): Promise<
    | {
        /** Counts are absent until the broker has sampled the queue once. */
        messages?: number;
        messages_ready?: number;
        messages_unacknowledged?: number;
        consumers?: number;
        arguments: Record<string, unknown>;
        effective_policy_definition?: Record<string, unknown>;
        message_stats?: { publish?: number; deliver_get?: number };
      }
    | undefined
  >;
  drop(): Promise<void>;
}

/** One call to the RabbitMQ management API (credentials from TEST_RABBIT_API); `body` is sent as JSON. */
export async function managementApi(method: string, path: string, body?: unknown): Promise<Response> {
  const base = new URL(RABBIT_API);
  const auth = Buffer.from(`${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`).toString("base64");
  base.username = "";
  base.password = "";
  const res = await fetch(`${base.toString().replace(/\/$/, "")}${path}`, {
    method,
    headers: { authorization: `Basic ${auth}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return res;
}

export async function createVhost(prefix = "t"): Promise<TestVhost> {
  const name = uniqueName(prefix);
  const put = await managementApi("PUT", `/vhosts/${encodeURIComponent(name)}`, {});
  if (!put.ok) throw new Error(`cannot create vhost ${name}: HTTP ${put.status} ${await put.text()}`);
  const perm = await managementApi("PUT", `/permissions/${encodeURIComponent(name)}/guest`, { configure: ".*", write: ".*", read: ".*" });
  if (!perm.ok) throw new Error(`cannot set permissions on ${name}: HTTP ${perm.status}`);
  const mgmt = new URL(RABBIT_API);
  mgmt.pathname = "/";
  return {
    name,
    url: `${AMQP_BASE}/${encodeURIComponent(name)}`,
    managementUrl: mgmt.toString().replace(/\/$/, ""),
    async queue(queue) {
      const res = await managementApi("GET", `/queues/${encodeURIComponent(name)}/${encodeURIComponent(queue)}`);
      if (res.status === 404) return undefined;
      if (!res.ok) throw new Error(`queue ${queue}: HTTP ${res.status}`);
      return (await res.json()) as never;
    },
    async drop() {
      await managementApi("DELETE", `/vhosts/${encodeURIComponent(name)}`);
    },
  };
}

/**
 * Publishes `messages` to the work exchange as an outside producer would, waiting for the broker's
 * confirms every 200. `prepare` may adapt the channel (e.g. large-headers.ts's allowLargeHeaders).
 */
export async function publishConfirmed(
  url: string,
  messages: readonly { content: Buffer; properties: Options.Publish }[],
  prepare: (ch: ConfirmChannel) => ConfirmChannel = (ch) => ch,
): Promise<void> {
  const conn = await connect(url);
  try {
    const ch = prepare(await conn.createConfirmChannel());
    for (const [i, m] of messages.entries()) {
      ch.publish("matches", "matches.process", m.content, m.properties);
      if (i % 200 === 199) await ch.waitForConfirms();
    }
    await ch.waitForConfirms();
  } finally {
    await conn.close();
  }
}

/** Messages ready in `queue` (a passive check on a channel of its own: nothing taken). */
export async function messageCount(model: ChannelModel, queue: string): Promise<number> {
  const ch = await model.createChannel();
  try {
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await ch.close();
  }
}

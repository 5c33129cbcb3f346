/**
 * The little of the RabbitMQ management HTTP API that `queue status` needs: one queue's counts,
 * consumers and rates. Credentials come from RABBITMQ_MANAGEMENT_URL when it carries them,
 * otherwise from RABBITMQ_URL (the same user usually has the `monitoring` tag); the vhost is
 * always RABBITMQ_URL's, so both views describe the same queues.
 */
import { ConfigError, TransientError, errorMessage } from "../errors.js";

export interface ManagementTarget {
  /** `http://host:15672/api`, without credentials. */
  apiBase: string;
  /** `Basic ...` header value. */
  authorization: string;
  vhost: string;
}

/**
 * The queue facts we read; rates are messages per second over the API's sample window.
 *
 * Every figure is a broker-side sample (`collect_statistics_interval`, 5 s by default), and the
 * pieces are sampled independently: the queue's counts, its publish statistics and its delivery
 * statistics each come from their own collector, so one can already show an event that another
 * does not yet (under load we saw counts of 6 ready / 1 unacked with no delivery statistics). Until the API has sampled a figure it is `null` (unknown), never 0.
 */
export interface ManagementQueue {
  ready: number | null;
  unacked: number | null;
  consumers: number | null;
  publishRate: number | null;
  deliverRate: number | null;
}

/** `amqp://h/%2Fmatches` -> "/matches"; no path -> "/" (RabbitMQ's default vhost). */
export function vhostOfAmqpUrl(amqpUrl: string): string {
  const u = new URL(amqpUrl);
  return u.pathname.length > 1 ? decodeURIComponent(u.pathname.slice(1)) : "/";
}

function credentialsOf(u: URL): { user: string; password: string } | undefined {
  if (u.username === "") return undefined;
  return { user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
}

/**
 * Pure: where and how to call the API. amqplib's own default user is guest/guest. RABBITMQ_URL's
 * password is not sent over plain http when RABBITMQ_URL itself is TLS (`amqps:`): that would
 * hand a secret kept off the wire to anyone on the path (ConfigError instead).
 */
export function managementTarget(managementUrl: string, amqpUrl: string): ManagementTarget {
  const mgmt = new URL(managementUrl);
  const amqp = new URL(amqpUrl);
  const own = credentialsOf(mgmt);
  if (own === undefined && amqp.protocol === "amqps:" && amqp.password !== "" && mgmt.protocol !== "https:") {
    throw new ConfigError(
      "RABBITMQ_URL is amqps:// (TLS) but RABBITMQ_MANAGEMENT_URL is not https://: its password would cross the network in clear text. Use an https:// management URL, or give the management URL credentials of its own (a user with the monitoring tag)",
    );
  }
  const creds = own ?? credentialsOf(amqp) ?? { user: "guest", password: "guest" };
  mgmt.username = "";
  mgmt.password = "";
  mgmt.search = "";
  mgmt.hash = "";
  let path = mgmt.pathname.replace(/\/+$/, "");
  if (!path.endsWith("/api")) path = `${path}/api`;
  mgmt.pathname = path;
  return {
    apiBase: mgmt.toString().replace(/\/+$/, ""),
    authorization: `Basic ${Buffer.from(`${creds.user}:${creds.password}`).toString("base64")}`,
    vhost: vhostOfAmqpUrl(amqpUrl),
  };
}

function countOf(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function rateOf(stats: unknown, key: string): number | null {
  if (typeof stats !== "object" || stats === null) return null;
  const details = (stats as Record<string, unknown>)[key];
  if (typeof details !== "object" || details === null) return null;
  const rate = (details as Record<string, unknown>).rate;
  return typeof rate === "number" && Number.isFinite(rate) ? rate : null;
}

/**
 * Pure: the API's queue object -> our row. A queue the API has not sampled yet (just declared,
 * or a broker that just started) comes without counts: they stay unknown (`null`) rather than
 * reading as an empty, unconsumed queue.
 */
export function parseManagementQueue(body: unknown): ManagementQueue {
  const q = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const ready = countOf(q.messages_ready);
  const stats = q.message_stats;
  // A sampled queue that has seen no traffic since the broker started has no `message_stats`:
  // its rates are 0/s. Before the first sample nothing is known, rates included.
  const idle = ready !== null && stats === undefined ? 0 : null;
  return {
    ready,
    unacked: countOf(q.messages_unacknowledged),
    consumers: countOf(q.consumers),
    publishRate: rateOf(stats, "publish_details") ?? idle,
    deliverRate: rateOf(stats, "deliver_get_details") ?? idle,
  };
}

/**
 * GET an API path; `undefined` on 404 (the queue or the vhost does not exist). Anything else
 * (refused, timeout, 401, 5xx) is a TransientError `management_unavailable`, so the caller can
 * fall back to AMQP.
 */
async function getJson(target: ManagementTarget, path: string, timeoutMs: number): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${target.apiBase}${path}`, { headers: { authorization: target.authorization, accept: "application/json" }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    throw new TransientError("management_unavailable", `management API at ${target.apiBase} is unreachable: ${errorMessage(cause ?? err)}`, { cause: err });
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.ok) {
    await res.body?.cancel();
    const hint = res.status === 401 ? " (check the user name and password)" : "";
    throw new TransientError("management_unavailable", `management API at ${target.apiBase} answered HTTP ${res.status}${hint}`);
  }
  return res.json();
}

/** One queue from the API; `undefined` when it (or the vhost) does not exist. */
export async function fetchManagementQueue(target: ManagementTarget, queue: string, timeoutMs = 5000): Promise<ManagementQueue | undefined> {
  const body = await getJson(target, `/queues/${encodeURIComponent(target.vhost)}/${encodeURIComponent(queue)}`, timeoutMs);
  return body === undefined ? undefined : parseManagementQueue(body);
}

/** The names of every queue in the vhost (`[]` when the vhost does not exist). */
export async function fetchManagementQueueNames(target: ManagementTarget, timeoutMs = 5000): Promise<string[]> {
  const body = await getJson(target, `/queues/${encodeURIComponent(target.vhost)}?columns=name`, timeoutMs);
  if (!Array.isArray(body)) return [];
  return body.flatMap((q: unknown) => (typeof q === "object" && q !== null && typeof (q as { name?: unknown }).name === "string" ? [(q as { name: string }).name] : []));
}

/**
 * The little of the RabbitMQ management HTTP API that `queue status` needs: one queue's counts,
 * consumers and rates. Credentials come from RABBITMQ_MANAGEMENT_URL when it carries them,
 * otherwise from RABBITMQ_URL (the `management` tag is enough: the API shows it its own vhosts' queues); the vhost is
 * always RABBITMQ_URL's, so both views describe the same queues.
 */
import { ConfigError, TransientError, errorMessage, isMatchflowError } from "../errors.js";
import { decodeUrlPart } from "../url-escapes.js";

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

/** `amqp://h/%2Fmatches` -> "/matches"; no path -> "/" (RabbitMQ's default vhost); decoded as amqplib does (url-escapes.ts). */
export function vhostOfAmqpUrl(amqpUrl: string): string {
  const u = new URL(amqpUrl);
  return u.pathname.length > 1 ? decodeUrlPart(u.pathname.slice(1)) : "/";
}

function credentialsOf(u: URL): { user: string; password: string } | undefined {
  if (u.username === "") return undefined;
  return { user: decodeUrlPart(u.username), password: decodeUrlPart(u.password) };
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
      "RABBITMQ_URL is amqps:// (TLS) but RABBITMQ_MANAGEMENT_URL is not https://: its password would cross the network in clear text. Use an https:// management URL, or give the management URL credentials of its own (a user with the management tag)",
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

function unavailable(target: ManagementTarget, what: string, cause?: unknown): TransientError {
  return new TransientError("management_unavailable", `management API at ${target.apiBase} ${what}`, cause === undefined ? undefined : { cause });
}

/**
 * The most of an answer that is read: a queue is a few KB, the vhost's queue names ~50 bytes a
 * queue (16 MiB: some 300,000 queues). Without it `res.text()` held whatever came within the
 * timeout: an endless answer (a wrong URL serving a download, a hostile server) took `queue
 * status` past 1 GB of resident memory in 5 s on localhost.
 */
export const MAX_MANAGEMENT_ANSWER_BYTES = 16 * 1024 * 1024;

/** The body's bytes, or undefined (the rest cancelled) once it passes MAX_MANAGEMENT_ANSWER_BYTES. */
async function readBounded(res: Response): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body === null) return new Uint8Array();
  const reader = res.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_MANAGEMENT_ANSWER_BYTES) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

/**
 * The body as JSON. A body that stalls past the request's timeout (the same signal covers it),
 * a connection cut mid-body, or a 200 that is not JSON (a proxy's or SSO's HTML page at a wrong
 * path) are `management_unavailable` like a refused connection: they escaped as internal errors
 * (exit 70, a stack trace) where `queue status` falls back to AMQP.
 */
async function readJson(target: ManagementTarget, res: Response, timeoutMs: number): Promise<unknown> {
  let text: string;
  try {
    const bytes = await readBounded(res);
    if (bytes === undefined) {
      throw unavailable(target, `answered more than ${MAX_MANAGEMENT_ANSWER_BYTES / (1024 * 1024)} MiB: not the management API's answer (is RABBITMQ_MANAGEMENT_URL the management API, not a download or a proxy in front of it?)`);
    }
    text = new TextDecoder().decode(bytes);
  } catch (err) {
    if (isMatchflowError(err)) throw err;
    const name = (err as { name?: unknown }).name;
    if (name === "TimeoutError" || name === "AbortError") throw unavailable(target, `did not finish its answer within ${timeoutMs} ms`, err);
    const cause = (err as { cause?: unknown }).cause;
    throw unavailable(target, `broke off its answer: ${errorMessage(cause ?? err)}`, err);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const type = res.headers.get("content-type");
    throw unavailable(target, `answered HTTP ${res.status} with a body that is not JSON${type ? ` (${type.split(";")[0]})` : ""}: is RABBITMQ_MANAGEMENT_URL the management API, not a web page or proxy in front of it?`, err);
  }
}

/**
 * GET an API path; `undefined` on 404, which says only that the path led nowhere: a missing queue,
 * a missing vhost, or a wrong path or proxy (callers tell which). Anything else unusable
 * (refused, timeout, 401, 5xx, a body that is not JSON) is a TransientError
 * `management_unavailable`, so the caller can fall back to AMQP.
 */
async function getJson(target: ManagementTarget, path: string, timeoutMs: number): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${target.apiBase}${path}`, { headers: { authorization: target.authorization, accept: "application/json" }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    throw unavailable(target, `is unreachable: ${errorMessage(cause ?? err)}`, err);
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return undefined;
  }
  if (!res.ok) {
    await res.body?.cancel();
    const hint = res.status === 401 ? " (check the user name and password)" : "";
    throw unavailable(target, `answered HTTP ${res.status}${hint}`);
  }
  return readJson(target, res, timeoutMs);
}

/**
 * Why the vhost's queue list was a 404: the API's overview answers (a management API without our
 * vhost, though RABBITMQ_URL connects to it: another broker) or is a 404 too (no management API
 * at that path). Either way the API cannot describe our queues: `management_unavailable`.
 */
async function vhostNotFound(target: ManagementTarget, timeoutMs: number): Promise<TransientError> {
  const overview = await getJson(target, "/overview", timeoutMs);
  if (typeof overview === "object" && overview !== null) {
    return unavailable(target, `has no vhost ${JSON.stringify(target.vhost)} (HTTP 404) though RABBITMQ_URL connects to it: RABBITMQ_MANAGEMENT_URL may point at another broker`);
  }
  return unavailable(target, "answered HTTP 404 for the vhost's queues and for /overview: RABBITMQ_MANAGEMENT_URL's path (or a proxy in front of it) does not lead to the RabbitMQ management API");
}

/**
 * One queue from the API; `undefined` when the API does not know it (HTTP 404): the queue may be
 * missing, or the API may describe another broker; the caller confirms over AMQP.
 */
export async function fetchManagementQueue(target: ManagementTarget, queue: string, timeoutMs = 5000): Promise<ManagementQueue | undefined> {
  const body = await getJson(target, `/queues/${encodeURIComponent(target.vhost)}/${encodeURIComponent(queue)}`, timeoutMs);
  if (body === undefined) return undefined;
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw unavailable(target, "answered with JSON that is not a queue");
  return parseManagementQueue(body);
}

/** A queue of the vhost as the listing gives it: its name, and the figures that tell a stranded queue. */
export interface ManagementQueueFigures {
  name: string;
  ready: number | null;
  consumers: number | null;
}

/**
 * Every queue of the vhost with its ready count and consumers, in one request: the names find
 * retry queues of an earlier schedule, the figures a queue no worker reads whatever its name
 * (stranded-queues.ts). A 404 is `management_unavailable` naming its cause (see vhostNotFound):
 * before, it read as an empty vhost and every queue as missing (exit 2).
 */
export async function fetchManagementQueueFigures(target: ManagementTarget, timeoutMs = 5000): Promise<ManagementQueueFigures[]> {
  const body = await getJson(target, `/queues/${encodeURIComponent(target.vhost)}?columns=name,messages_ready,consumers`, timeoutMs);
  if (body === undefined) throw await vhostNotFound(target, timeoutMs);
  if (!Array.isArray(body)) throw unavailable(target, "answered with JSON that is not a list of queues");
  return body.flatMap((q: unknown) => {
    if (typeof q !== "object" || q === null || typeof (q as { name?: unknown }).name !== "string") return [];
    const r = q as { name: string; messages_ready?: unknown; consumers?: unknown };
    return [{ name: r.name, ready: countOf(r.messages_ready), consumers: countOf(r.consumers) }];
  });
}

/** The names of every queue in the vhost (fetchManagementQueueFigures' listing). */
export async function fetchManagementQueueNames(target: ManagementTarget, timeoutMs = 5000): Promise<string[]> {
  return (await fetchManagementQueueFigures(target, timeoutMs)).map((q) => q.name);
}

/** What a RabbitMQ URL says about where it points, for messages and monitors: never the password. Pure. */
import { redactUrl } from "../redact-url.js";
import { decodeUrlPart } from "../url-escapes.js";

/** Host, port and vhost of an amqp(s) URL; undefined when it is not one. */
export function brokerAddress(url: string): { hostname: string; port: number; virtualHost: string } | undefined {
  try {
    const u = new URL(url);
    const port = Number(u.port || (u.protocol === "amqps:" ? 5671 : 5672));
    const virtualHost = u.pathname.length > 1 ? decodeUrlPart(u.pathname.slice(1)) : "/";
    return { hostname: u.hostname, port, virtualHost };
  } catch {
    return undefined;
  }
}

/** "127.0.0.1:5672 vhost /matches": what to put in a message. */
export function describeBroker(url: string): string {
  const a = brokerAddress(url);
  return a ? `${a.hostname}:${a.port} vhost ${a.virtualHost}` : (redactUrl(url) ?? "(no url)");
}

/** `url` asking for an AMQP heartbeat of `seconds`, unless it asks for one itself. */
export function withHeartbeat(url: string, seconds: number): string {
  try {
    const u = new URL(url);
    if (!u.searchParams.has("heartbeat")) u.searchParams.set("heartbeat", String(seconds));
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * A TCP proxy between our processes and a service (RabbitMQ), to fault the *network* rather than
 * the service: `sever()` cuts every live connection abruptly (a reset on both sides, as a NAT or
 * load balancer dropping its state does), `blackhole()` partitions the link silently and `heal()`
 * ends the partition. Only node:net, no dependency.
 *
 * Blackhole = the sockets stay open and nothing is forwarded, in either direction: each side is
 * paused, so its bytes (and a FIN behind them) wait in the socket buffers, as TCP segments wait
 * for retransmission across a real partition; the sender sees back-pressure once the buffers are
 * full. Nothing is dropped, so a connection that outlives the partition resumes intact on
 * `heal()`, and nothing is answered, so only a timeout (AMQP heartbeat, connect timeout) can tell
 * the link is dead. An end, reset or close of one side (the broker giving up on its own heartbeat)
 * is not passed to the other side either until `heal()`: a paused socket still reports an end
 * that has no data before it, and passing it on would tell the client what a partition hides. New connections during a blackhole are accepted (a connect succeeds: the
 * client's TCP handshake is with the proxy) and held the same way: the AMQP handshake stalls
 * until the client's connect timeout. That is the harder case for the client than a refusal,
 * which would tell it at once.
 */
import net from "node:net";

export interface TcpProxy {
  /** The port the proxy listens on (127.0.0.1). */
  port: number;
  /** Live connection pairs (client side accepted, upstream dialled). */
  readonly connections: number;
  /** Connections accepted since the start (a reconnecting client shows up here). */
  readonly accepted: number;
  /** Resets every live connection, both sides. New connections are forwarded as before. */
  sever(): void;
  /** Stops forwarding in both directions, keeping every socket open (see above). */
  blackhole(): void;
  /** Forwards again: what was held during the blackhole flows, in order. */
  heal(): void;
  /** Delays every chunk (and end) by `ms` each way, in order: a slow link (0: none; lowering it mid-stream may reorder bytes). */
  delay(ms: number): void;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let holding = false;
  let accepted = 0;
  let latencyMs = 0;
  /** What crosses the link other than bytes (an end, a teardown), held back during a blackhole. */
  const held: (() => void)[] = [];
  const acrossTheLink = (effect: () => void) => (holding ? held.push(effect) : effect());

  /** Copies `from` to `to` with back-pressure; while holding, `from` stays paused. */
  const forward = (from: net.Socket, to: net.Socket) => {
    // Timers of one duration fire in the order they were set: the delay keeps the byte order.
    const later = (effect: () => void) => (latencyMs > 0 ? setTimeout(effect, latencyMs) : effect());
    from.on("data", (chunk: Buffer) =>
      later(() => {
        if (!to.destroyed && !to.write(chunk)) from.pause();
      }),
    );
    to.on("drain", () => {
      if (!holding) from.resume();
    });
    from.on("end", () => later(() => acrossTheLink(() => to.end())));
  };

  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(target.port, target.host);
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    forward(client, upstream);
    forward(upstream, client);
    if (holding) {
      client.pause();
      upstream.pause();
    }
    // Either side failing or closing takes the other down: a half-dead pair would hide the fault.
    const down = () => {
      pairs.delete(pair);
      acrossTheLink(() => {
        client.destroy();
        upstream.destroy();
      });
    };
    for (const s of [client, upstream]) {
      s.on("error", down);
      s.on("close", down);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;

  return {
    port,
    get connections() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    sever() {
      for (const { client, upstream } of [...pairs]) {
        // RST rather than FIN: the peer learns at its next read or write, with ECONNRESET.
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      }
    },
    blackhole() {
      holding = true;
      for (const { client, upstream } of pairs) {
        client.pause();
        upstream.pause();
      }
    },
    heal() {
      holding = false;
      for (const { client, upstream } of pairs) {
        client.resume();
        upstream.resume();
      }
      for (const effect of held.splice(0)) effect();
    },
    delay(ms) {
      latencyMs = ms;
    },
    close() {
      holding = false;
      for (const effect of held.splice(0)) effect(); // the teardowns held back: no socket outlives the proxy
      for (const { client, upstream } of pairs) {
        client.destroy();
        upstream.destroy();
      }
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `url` (amqp://user:pass@host:port/vhost) with its host and port replaced by the proxy's, and extra query parameters. */
export function viaProxy(url: string, proxy: TcpProxy, query: Record<string, string> = {}): string {
  const u = new URL(url);
  u.hostname = "127.0.0.1";
  u.port = String(proxy.port);
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
  return u.toString();
}

/** A proxy in front of the broker a test vhost's URL points at (its host and port; 5672 by default). */
export function proxyFor(amqpUrl: string): Promise<TcpProxy> {
  const url = new URL(amqpUrl);
  return startTcpProxy({ host: url.hostname, port: Number(url.port || 5672) });
}

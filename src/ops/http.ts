/**
 * The worker's HTTP surface on METRICS_PORT: `/metrics` (Prometheus), `/healthz` (the process
 * is alive and its event loop turns), `/readyz` (broker and database connected: take traffic).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { PermanentError } from "../errors.js";

export interface ReadinessCheck {
  (): { ready: boolean; checks: Record<string, boolean> };
}

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

/** Why the port cannot be listened on, by Node's error code: something the operator can fix. */
const LISTEN_REASONS: Record<string, string> = {
  EADDRINUSE: "the port is already in use (another worker on this host?)",
  EACCES: "permission denied (ports below 1024 need privileges)",
  EADDRNOTAVAIL: "the address is not available on this host",
};

/**
 * A port that cannot be listened on is a configuration problem (exit 2, one line naming the
 * setting), not an internal error with Node's raw "listen EADDRINUSE" and a stack trace.
 */
export function listenProblem(port: number, err: Error): Error {
  const code = (err as { code?: unknown }).code;
  const reason = typeof code === "string" ? LISTEN_REASONS[code] : undefined;
  if (reason === undefined) return err;
  return new PermanentError("usage", `cannot serve /metrics, /healthz, /readyz on port ${port}: ${reason}; choose another with METRICS_PORT or --metrics-port (0 = any free port)`, {
    cause: err,
  });
}

export async function startOpsServer(options: { port: number; host?: string; registry: Registry; readiness: ReadinessCheck }): Promise<OpsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (status: number, body: string, type = "application/json", headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store", ...headers });
      res.end(body);
    };
    // RFC 9110: a 405 names the methods the resource takes.
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, JSON.stringify({ error: "method not allowed" }), "application/json", { allow: "GET, HEAD" });
    if (path === "/healthz") return send(200, JSON.stringify({ status: "ok" }));
    if (path === "/readyz") {
      const r = options.readiness();
      return send(r.ready ? 200 : 503, JSON.stringify({ status: r.ready ? "ready" : "not ready", ...r.checks }));
    }
    if (path === "/metrics") {
      options.registry.metrics().then(
        (text) => send(200, text, options.registry.contentType),
        (err: unknown) => send(500, JSON.stringify({ error: String(err) })),
      );
      return;
    }
    send(404, JSON.stringify({ error: "not found", paths: ["/metrics", "/healthz", "/readyz"] }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: Error) => reject(listenProblem(options.port, err)));
    // No host: every address, IPv6 and IPv4 where the pod has both (an IPv6-only cluster's kubelet
    // probes the pod's IPv6 address), IPv4 alone where IPv6 is off.
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

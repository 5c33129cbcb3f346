/**
 * The worker's HTTP surface on METRICS_PORT: `/metrics` (Prometheus), `/healthz` (the process
 * is alive and its event loop turns), `/readyz` (broker and database connected: take traffic).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface ReadinessCheck {
  (): { ready: boolean; checks: Record<string, boolean> };
}

export interface OpsServer {
  port: number;
  close(): Promise<void>;
}

export async function startOpsServer(options: { port: number; host?: string; registry: Registry; readiness: ReadinessCheck }): Promise<OpsServer> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (status: number, body: string, type = "application/json") => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, JSON.stringify({ error: "method not allowed" }));
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
    server.once("error", reject);
    server.listen(options.port, options.host ?? "0.0.0.0", () => resolve());
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

import net from "node:net";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { startOpsServer } from "../../src/ops/http.js";

/** Whether this machine has an IPv6 loopback to connect through. */
async function hasIpv6Loopback(): Promise<boolean> {
  const probe = net.createServer();
  return new Promise((resolve) => {
    probe.once("error", () => resolve(false));
    probe.listen(0, "::1", () => probe.close(() => resolve(true)));
  });
}

describe("ops HTTP server", () => {
  it("answers on IPv4 and, where the machine has it, IPv6 (an IPv6-only cluster's kubelet probes the pod's IPv6 address)", async () => {
    const server = await startOpsServer({ port: 0, registry: new Registry(), readiness: () => ({ ready: true, checks: {} }) });
    try {
      expect(await (await fetch(`http://127.0.0.1:${server.port}/healthz`)).json()).toEqual({ status: "ok" });
      if (await hasIpv6Loopback()) expect(await (await fetch(`http://[::1]:${server.port}/readyz`)).json()).toEqual({ status: "ready" });
    } finally {
      await server.close();
    }
  });

  it("answers another method with 405 and the methods it takes (Allow: GET, HEAD), and an unknown path with 404 naming the paths", async () => {
    const server = await startOpsServer({ port: 0, registry: new Registry(), readiness: () => ({ ready: true, checks: {} }) });
    try {
      const post = await fetch(`http://127.0.0.1:${server.port}/metrics`, { method: "POST" });
      expect(post.status).toBe(405);
      expect(post.headers.get("allow")).toBe("GET, HEAD");
      const head = await fetch(`http://127.0.0.1:${server.port}/healthz`, { method: "HEAD" });
      expect(head.status).toBe(200);
      const missing = await fetch(`http://127.0.0.1:${server.port}/nope`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({ error: "not found", paths: ["/metrics", "/healthz", "/readyz"] });
    } finally {
      await server.close();
    }
  });
});

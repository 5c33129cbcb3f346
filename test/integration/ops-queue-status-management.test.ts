/**
 * `queue status` against the real RabbitMQ when RABBITMQ_MANAGEMENT_URL does not lead to this
 * broker's management API: a wrong path, an API that does not know our queues (another broker),
 * an HTML page, a body that stalls. A 404 reads as "missing" only once a passive declare over
 * AMQP confirms it; the rest falls back to AMQP with a note (exit 0), never every queue missing
 * (exit 2) nor an internal error (exit 70). A password with a bare "%" works as its connection does.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { connect, type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { declareTopology, topologyNames } from "../../src/broker/topology.js";
import { loadConfig } from "../../src/config.js";
import { silentLogger } from "../../src/log.js";
import type { QueueStatusReport } from "../../src/ops/queue-status-report.js";
import { queueStatus } from "../../src/ops/queue-status.js";
import { runCli } from "../helpers/cli.js";
import { createVhost, managementApi, type TestVhost } from "../helpers/rabbit.js";
import { uniqueName } from "../helpers/services.js";

const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);
let vhost: TestVhost;
let amqp: ChannelModel;

/** A stand-in HTTP front whose answers each test sets: what a proxy, a wrong path or another broker answers. */
let front: Server;
let frontUrl: string;
let answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => void res.writeHead(404).end();

beforeAll(async () => {
  vhost = await createVhost("opsstatusmgmt");
  amqp = await connect(vhost.url);
  await declareTopology(amqp, names, { queueType: "classic", log: silentLogger });
  front = createServer((req, res) => answer(req, res));
  await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
  frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
});

afterAll(async () => {
  front?.closeAllConnections();
  await new Promise((resolve) => front?.close(resolve));
  await amqp?.close();
  await vhost?.drop();
});

function expectAmqpFallback(report: QueueStatusReport, note: RegExp): void {
  expect(report.source).toBe("amqp");
  expect(report.notes).toEqual([expect.stringMatching(note)]);
  expect(report.queues.every((q) => q.exists)).toBe(true);
}

describe("queue status when the management API cannot describe this broker", () => {
  it("a proxy path that leads to no management API (every path a 404): read over AMQP, not every queue missing (exit 2)", async () => {
    // RabbitMQ itself answers an unknown path with 406; a reverse proxy without the route says 404.
    answer = (_req, res) => void res.writeHead(404, { "content-type": "text/html" }).end("<html>404 Not Found</html>");
    const report = await queueStatus({ names, amqpUrl: vhost.url, managementUrl: `${frontUrl}/rabbitmq`, log: silentLogger });
    expectAmqpFallback(report, new RegExp(`^management API at ${frontUrl}/rabbitmq/api answered HTTP 404 for the vhost's queues and for /overview: .*; figures read over AMQP instead`));

    const cli = await runCli(["queue", "status"], { RABBITMQ_URL: vhost.url, RABBITMQ_MANAGEMENT_URL: `${frontUrl}/rabbitmq` });
    expect(cli.stderr).toBe("");
    expect(cli.stdout).toMatch(/^matches\s+work\s+0\s/m);
    expect(cli.stdout).toMatch(/^note: management API at .* does not lead to the RabbitMQ management API; figures read over AMQP instead/m);
    expect(cli.code).toBe(0);
  });

  it("an API without our vhost (another broker): said so, read over AMQP", async () => {
    answer = (req, res) => {
      if (req.url === "/api/overview") return void res.writeHead(200, { "content-type": "application/json" }).end('{"rabbitmq_version":"3.10.8"}');
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":"Object Not Found","reason":"Not Found"}');
    };
    const report = await queueStatus({ names, amqpUrl: vhost.url, managementUrl: frontUrl, log: silentLogger });
    expectAmqpFallback(report, new RegExp(`^management API at ${frontUrl}/api has no vhost "${vhost.name}" \\(HTTP 404\\) though RABBITMQ_URL connects to it`));
  });

  it("an API whose vhost lacks queues that exist over AMQP (another broker, same vhost name): its figures are not used", async () => {
    answer = (req, res) => {
      if (req.url?.endsWith("?columns=name,messages_ready,consumers")) return void res.writeHead(200, { "content-type": "application/json" }).end("[]");
      res.writeHead(404, { "content-type": "application/json" }).end('{"error":"Object Not Found","reason":"Not Found"}');
    };
    const report = await queueStatus({ names, amqpUrl: vhost.url, managementUrl: frontUrl, log: silentLogger });
    expectAmqpFallback(report, new RegExp(`^management API at ${frontUrl}/api does not know matches, matches\\.dead_letter, .* in vhost "${vhost.name}", which exist over AMQP: RABBITMQ_MANAGEMENT_URL may point at another broker`));
  });

  it("an HTML page with 200 (a login proxy): read over AMQP with a note, exit 0 (was an internal error, exit 70)", async () => {
    answer = (_req, res) => void res.writeHead(200, { "content-type": "text/html" }).end("<html><body>Sign in</body></html>");
    const cli = await runCli(["queue", "status"], { RABBITMQ_URL: vhost.url, RABBITMQ_MANAGEMENT_URL: frontUrl });
    expect(cli.stderr).toBe("");
    expect(cli.stdout).toContain(`note: management API at ${frontUrl}/api answered HTTP 200 with a body that is not JSON (text/html): is RABBITMQ_MANAGEMENT_URL the management API, not a web page or proxy in front of it?; figures read over AMQP instead`);
    expect(cli.code).toBe(0);
  });

  it("a body that stalls after its headers: read over AMQP once the request's timeout runs out", async () => {
    answer = (_req, res) => void res.writeHead(200, { "content-type": "application/json" }).write("[");
    const report = await queueStatus({ names, amqpUrl: vhost.url, managementUrl: frontUrl, log: silentLogger, managementTimeoutMs: 300 });
    expectAmqpFallback(report, new RegExp(`^management API at ${frontUrl}/api did not finish its answer within 300 ms; figures read over AMQP instead`));
  });
});

describe("a \"%\" in RABBITMQ_URL's password that starts no percent-escape", () => {
  it("is read as amqplib reads it: the management API is asked with the same credentials the connection used (decodeURIComponent threw: exit 70)", async () => {
    const user = uniqueName("pctuser");
    const put = await managementApi("PUT", `/users/${encodeURIComponent(user)}`, { password: "gu%est", tags: "monitoring" });
    expect(put.ok).toBe(true);
    try {
      const perm = await managementApi("PUT", `/permissions/${encodeURIComponent(vhost.name)}/${encodeURIComponent(user)}`, { configure: ".*", write: ".*", read: ".*" });
      expect(perm.ok).toBe(true);
      const url = new URL(vhost.url);
      url.username = user;
      url.password = "gu%est"; // kept as written: the URL setter escapes only what a URL cannot hold
      expect(url.toString()).toContain(":gu%est@");
      // The management URL without credentials of its own: RABBITMQ_URL's are used.
      const cli = await runCli(["queue", "status"], { RABBITMQ_URL: url.toString(), RABBITMQ_MANAGEMENT_URL: new URL(vhost.managementUrl).origin });
      expect(cli.stderr).toBe("");
      // Answered by the management API (refused credentials would read over AMQP, with a note).
      expect(cli.stdout).toMatch(/^broker 127\.0\.0\.1:5672 vhost \S+ \(figures from the management API/);
      expect(cli.stdout).toMatch(/^matches\s+work\s/m);
      // (A note that the API has not sampled the fresh queues yet may come; one that it failed may not.)
      expect(cli.stdout).not.toMatch(/figures read over AMQP instead/);
      expect(cli.code).toBe(0);
    } finally {
      await managementApi("DELETE", `/users/${encodeURIComponent(user)}`);
    }
  });
});

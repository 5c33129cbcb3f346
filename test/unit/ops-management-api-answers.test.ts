/**
 * What the management API client makes of answers that are not a queue: a 404 (missing vhost,
 * wrong path), a 200 that is not JSON, a body that stalls or breaks off. Each is
 * `management_unavailable` with one clear line (queue status then reads over AMQP), never an
 * internal error. A tiny local HTTP server stands in for the API's misbehaving front (a proxy, a
 * wrong path); real RabbitMQ answers are in test/integration/ops-queue-status*.test.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchManagementQueue, fetchManagementQueueNames, managementTarget, vhostOfAmqpUrl, type ManagementTarget } from "../../src/ops/management-api.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const routes = new Map<string, Handler>();
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const handler = routes.get(req.url ?? "");
    if (handler) return handler(req, res);
    res.writeHead(404, { "content-type": "application/json" }).end('{"error":"Object Not Found","reason":"Not Found"}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections(); // fetch keeps them alive; the stalled answer too
  await new Promise((resolve) => server.close(resolve));
});

function target(vhost = "prod"): ManagementTarget {
  return managementTarget(base, `amqp://app:pw@rabbit/${encodeURIComponent(vhost)}`);
}

/** Routes for this test only. */
function serve(entries: Record<string, Handler>): void {
  routes.clear();
  for (const [path, handler] of Object.entries(entries)) routes.set(path, handler);
}

const json = (body: unknown): Handler => (_req, res) => void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));

describe("a 404", () => {
  it("for the vhost's queue list while the API's overview answers: the API has no such vhost (another broker), not an empty vhost", async () => {
    serve({ "/api/overview": json({ rabbitmq_version: "3.10.8" }) });
    await expect(fetchManagementQueueNames(target())).rejects.toMatchObject({
      code: "management_unavailable",
      message: `management API at ${base}/api has no vhost "prod" (HTTP 404) though RABBITMQ_URL connects to it: RABBITMQ_MANAGEMENT_URL may point at another broker`,
    });
  });

  it("for the overview as well: no management API at that path", async () => {
    serve({});
    await expect(fetchManagementQueueNames(target())).rejects.toMatchObject({
      code: "management_unavailable",
      message: `management API at ${base}/api answered HTTP 404 for the vhost's queues and for /overview: RABBITMQ_MANAGEMENT_URL's path (or a proxy in front of it) does not lead to the RabbitMQ management API`,
    });
  });
});

describe("a 200 that is not what the API sends", () => {
  it("an HTML page (a login proxy, a wrong path): management_unavailable naming it", async () => {
    const page: Handler = (_req, res) => void res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end("<html><body>Sign in</body></html>");
    serve({ "/api/queues/prod/matches": page, "/api/queues/prod?columns=name,messages_ready,consumers": page });
    const expected = {
      code: "management_unavailable",
      message: `management API at ${base}/api answered HTTP 200 with a body that is not JSON (text/html): is RABBITMQ_MANAGEMENT_URL the management API, not a web page or proxy in front of it?`,
    };
    await expect(fetchManagementQueue(target(), "matches")).rejects.toMatchObject(expected);
    await expect(fetchManagementQueueNames(target())).rejects.toMatchObject(expected);
  });

  it("JSON of the wrong shape (the right shape is read)", async () => {
    serve({ "/api/queues/prod/matches": json(["matches"]), "/api/queues/prod?columns=name,messages_ready,consumers": json({ name: "matches" }) });
    await expect(fetchManagementQueue(target(), "matches")).rejects.toMatchObject({ code: "management_unavailable", message: expect.stringMatching(/answered with JSON that is not a queue$/) as string });
    await expect(fetchManagementQueueNames(target())).rejects.toMatchObject({ code: "management_unavailable", message: expect.stringMatching(/answered with JSON that is not a list of queues$/) as string });
    serve({ "/api/queues/prod/matches": json({ messages_ready: 3, messages_unacknowledged: 1, consumers: 2 }), "/api/queues/prod?columns=name,messages_ready,consumers": json([{ name: "matches" }]) });
    await expect(fetchManagementQueue(target(), "matches")).resolves.toMatchObject({ ready: 3, unacked: 1, consumers: 2 });
    await expect(fetchManagementQueueNames(target())).resolves.toEqual(["matches"]);
  });
});

describe("a body that does not arrive whole", () => {
  it("stalls after the headers: management_unavailable once the request's timeout runs out", async () => {
    serve({ "/api/queues/prod/matches": (_req, res) => void res.writeHead(200, { "content-type": "application/json" }).write('{"messages_ready":') });
    const started = Date.now();
    await expect(fetchManagementQueue(target(), "matches", 300)).rejects.toMatchObject({
      code: "management_unavailable",
      message: `management API at ${base}/api did not finish its answer within 300 ms`,
    });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("broken off mid-body: management_unavailable", async () => {
    serve({
      "/api/queues/prod/matches": (_req, res) => {
        res.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
        res.write('{"messages_ready":', () => res.destroy());
      },
    });
    await expect(fetchManagementQueue(target(), "matches")).rejects.toMatchObject({ code: "management_unavailable", message: expect.stringMatching(/^management API at http:\/\/127\.0\.0\.1:\d+\/api broke off its answer: \S/) as string });
  });
});

describe("percent-escapes the client decodes", () => {
  it("as amqplib decodes them for the connection: escapes as UTF-8, a \"%\" that starts none kept (decodeURIComponent threw: exit 70)", () => {
    expect(vhostOfAmqpUrl("amqp://app:pw@rabbit/50%off")).toBe("50%off");
    expect(vhostOfAmqpUrl("amqp://rabbit/%2Fmatches%C3%A9")).toBe("/matches\u00e9");
    const noCreds = "http://rabbit:15672";
    const auth = (amqpUrl: string, mgmt = noCreds) => managementTarget(mgmt, amqpUrl).authorization;
    expect(auth("amqp://app:s3cr%zz@rabbit/")).toBe(`Basic ${Buffer.from("app:s3cr%zz").toString("base64")}`);
    expect(auth("amqp://app:p%25ss%40@rabbit/")).toBe(`Basic ${Buffer.from("app:p%ss@").toString("base64")}`);
  });
});

/**
 * RabbitMQ over TLS (`amqps://`), as a production broker with a private CA is reached: a TLS
 * terminator in front of the local RabbitMQ (its certificate signed by a CA made for the test,
 * for the host name `localhost` only). `matchflow publish` and a worker store matches through
 * it when the CA is given with NODE_EXTRA_CA_CERTS; a certificate that is not trusted, or not
 * for the host in RABBITMQ_URL, is said in one line with what to do, exit 4.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, until } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { makeTestCertificates } from "../helpers/tls-certificates.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

const dir = mkdtempSync(join(tmpdir(), "mf-tls-"));
let ca: string;
let terminator: tls.Server;
let port: number;
let connections = 0;
let t: WorkerEnv;

/** RABBITMQ_URL of the test's vhost through the terminator, at `host`. */
const tlsUrl = (host: string) => {
  const plain = new URL(t.vhost.url);
  return `amqps://${plain.username}:${plain.password}@${host}:${port}${plain.pathname}`;
};

beforeAll(async () => {
  const certificates = makeTestCertificates(dir);
  ca = certificates.ca;
  t = await createWorkerEnv("tls");
  const upstream = new URL(t.vhost.url);
  terminator = tls.createServer({ key: readFileSync(certificates.key), cert: readFileSync(certificates.cert) }, (socket) => {
    connections++;
    const broker = net.connect(Number(upstream.port || 5672), upstream.hostname);
    socket.pipe(broker).pipe(socket);
    socket.on("error", () => broker.destroy());
    broker.on("error", () => socket.destroy());
  });
  await new Promise<void>((resolve) => terminator.listen(0, "127.0.0.1", resolve));
  port = (terminator.address() as net.AddressInfo).port;
});

afterAll(async () => {
  await t?.teardown();
  await new Promise((resolve) => terminator?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe("RabbitMQ over TLS (amqps://)", () => {
  it("publish and a worker store matches through TLS when the broker's CA is given with NODE_EXTRA_CA_CERTS", async () => {
    const input = [1, 2, 3].map((i) => JSON.stringify(makeMatch("tls", i))).join("\n");
    const env = { RABBITMQ_URL: tlsUrl("localhost"), NODE_EXTRA_CA_CERTS: ca };
    const published = await runCli(["publish"], env, { input });
    expect(published.stderr).toBe("");
    expect(published.stdout).toBe("3 submitted, 0 invalid, 0 failed\n");
    expect(published.code).toBe(0);
    const before = connections;
    const w = await t.startWorker(env);
    await until(async () => (await t.rows("tls")).total === 3, 30_000, "3 rows");
    expect(connections).toBeGreaterThan(before); // the worker came through the terminator too
    await t.stopWorker(w);
  });

  it("a certificate this machine does not trust: one line saying so and how to give the CA, exit 4", async () => {
    const r = await runCli(["publish"], { RABBITMQ_URL: tlsUrl("localhost") }, { input: JSON.stringify(makeMatch("tls", 9)) });
    expect(r.code).toBe(4);
    expect(r.stderr).toBe(`matchflow: cannot connect to RabbitMQ at localhost:${port} vhost ${t.vhost.name}: TLS certificate not trusted (unable to verify the first certificate): give the CA that signed the broker's certificate with NODE_EXTRA_CA_CERTS=/path/to/ca.pem\n`);
  });

  it("a certificate for another host name: said, exit 4", async () => {
    const r = await runCli(["publish"], { RABBITMQ_URL: tlsUrl("127.0.0.1"), NODE_EXTRA_CA_CERTS: ca }, { input: JSON.stringify(makeMatch("tls", 9)) });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^matchflow: cannot connect to RabbitMQ at 127\.0\.0\.1:\d+ vhost \S+: TLS certificate is not for this host \(Hostname\/IP does not match certificate's altnames: IP: 127\.0\.0\.1 is not in the cert's list: \): use the host name the certificate names in RABBITMQ_URL\n$/);
  });
});

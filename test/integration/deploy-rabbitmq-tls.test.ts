/**
 * The deploy tree's TLS broker (deploy/k8s/components/rabbitmq-tls) on a real RabbitMQ node: the
 * base's rabbitmq.conf and the component's rabbitmq-tls.conf as the StatefulSet mounts them
 * (conf.d/90-, 91-), with only the certificate paths and the ports made the test's own. The node
 * opens AMQP over TLS and the management API over HTTPS and no plain AMQP at all; matchflow
 * publishes, a worker stores and `queue status` reads through them with the CA given as the
 * component gives it (NODE_EXTRA_CA_CERTS); amqp:// to the TLS port is refused with a hint.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { runCli, until } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { freePort, startRabbitNode, type RabbitNode } from "../helpers/rabbitmq-node.js";
import { makeTestCertificates } from "../helpers/tls-certificates.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

interface Probe { exec: { command: string[] } }

const DEPLOY = fileURLToPath(new URL("../../deploy/k8s/", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "mf-tls-node-"));
const tlsDir = join(dir, "tls");
let node: RabbitNode;
let t: WorkerEnv;
const ports = { amqps: 0, https: 0, http: 0, prometheus: 0 };

const env = (scheme: "amqps" | "amqp" = "amqps") => ({
  RABBITMQ_URL: `${scheme}://guest:guest@localhost:${ports.amqps}/%2F`,
  RABBITMQ_MANAGEMENT_URL: `https://guest:guest@localhost:${ports.https}`,
  NODE_EXTRA_CA_CERTS: join(tlsDir, "ca.crt"),
});

beforeAll(async () => {
  makeTestCertificates(tlsDir);
  for (const key of Object.keys(ports) as (keyof typeof ports)[]) ports[key] = await freePort();
  const tlsConf = readFileSync(join(DEPLOY, "components/rabbitmq-tls/rabbitmq-tls.conf"), "utf8");
  expect(tlsConf).toContain("/etc/rabbitmq/tls/");
  node = await startRabbitNode(
    dir,
    {
      "90-matchflow.conf": readFileSync(join(DEPLOY, "base/rabbitmq/rabbitmq.conf"), "utf8"),
      "91-matchflow-tls.conf": tlsConf.replaceAll("/etc/rabbitmq/tls/", `${tlsDir}/`),
      // Ports of the test's own (the machine's broker holds the standard ones), and a disk limit
      // a test machine meets. Nothing here touches plain AMQP: the component turns it off.
      "99-test.conf": [
        `listeners.ssl.default = ${ports.amqps}`,
        `management.ssl.port = ${ports.https}`,
        `management.tcp.port = ${ports.http}`,
        `prometheus.tcp.port = ${ports.prometheus}`,
        "disk_free_limit.absolute = 50MB",
        "",
      ].join("\n"),
    },
    ["rabbitmq_management", "rabbitmq_prometheus"],
  );
  t = await createWorkerEnv("tls-node");
}, 180_000);

afterAll(async () => {
  await t?.teardown();
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe("deploy: RabbitMQ with the rabbitmq-tls component", () => {
  it("listens for AMQP over TLS and HTTPS, and for no plain AMQP (the base's 5672 listener is off)", async () => {
    const { listeners } = JSON.parse(await node.diagnostics("listeners", "--formatter", "json")) as { listeners: { port: number; protocol: string }[] };
    const byProtocol = Object.fromEntries(listeners.map((l) => [l.protocol, l.port]));
    expect(byProtocol).toMatchObject({ "amqp/ssl": ports.amqps, https: ports.https });
    expect(listeners.map((l) => l.protocol)).not.toContain("amqp");
  });

  it("passes the StatefulSet's own probes (startup, liveness, readiness: the readiness one connects to every listener)", async () => {
    const statefulSet = parseYaml(readFileSync(join(DEPLOY, "base/rabbitmq/statefulset.yaml"), "utf8")) as {
      spec: { template: { spec: { containers: { name: string; startupProbe: Probe; livenessProbe: Probe; readinessProbe: Probe }[] } } };
    };
    const broker = statefulSet.spec.template.spec.containers.find((c) => c.name === "rabbitmq");
    const probes = [broker?.startupProbe, broker?.livenessProbe, broker?.readinessProbe].map((p) => p?.exec.command ?? []);
    expect(probes.map((c) => c[0])).toEqual(["rabbitmq-diagnostics", "rabbitmq-diagnostics", "rabbitmq-diagnostics"]);
    expect(probes.map((c) => c[2])).toContain("check_port_connectivity");
    // Each probe as the pod runs it, against this node (`-n`); it fails (exit > 0) by throwing.
    for (const command of probes) await node.diagnostics(...command.slice(1));
  });

  it("matchflow publishes, a worker stores and `queue status` reads through TLS with the CA as the component gives it", async () => {
    const input = [1, 2, 3].map((i) => JSON.stringify(makeMatch("tlsnode", i))).join("\n");
    const published = await runCli(["publish"], env(), { input });
    expect(published.stderr).toBe("");
    expect(published.stdout).toBe("3 submitted, 0 invalid, 0 failed\n");

    const w = await t.startWorker(env());
    await until(async () => (await t.rows("tlsnode")).total === 3, 60_000, "3 rows");
    await t.stopWorker(w);

    // Over HTTPS: the management API lists the work queue (its figures may trail by seconds).
    const status = await runCli(["queue", "status", "--json"], env());
    expect(status.stderr).toBe("");
    const queues = (JSON.parse(status.stdout) as { queues: { name: string }[] }).queues.map((q) => q.name);
    expect(queues).toContain("matches");
  });

  it("amqp:// to the TLS port: refused, exit 4, saying TLS is amqps://", async () => {
    const r = await runCli(["publish"], env("amqp"), { input: "" });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^matchflow: cannot connect to RabbitMQ at localhost:\d+ vhost \/: .+ \(amqp:\/\/ to a port that speaks TLS\? TLS is amqps:\/\/, usually port 5671\)\n$/);
  });
});

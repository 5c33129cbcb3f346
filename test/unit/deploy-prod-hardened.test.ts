/**
 * overlays/prod-hardened. The rabbitmq-tls component: the broker's TLS settings, the certificate
 * where those settings look for it, only TLS ports open to the clients, and the worker and the
 * scraper trusting the CA (never holding the key); the settings themselves run on a real node in
 * test/integration/deploy-rabbitmq-tls.test.ts. The egress component: every pod may connect
 * where its configuration points it (broker, database, feeds, DNS) and nowhere else.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import type { K8sObject } from "../../scripts/validate-deploy.js";
import { find, findGenerated, objects, podTemplate, secretData, useRenderedOverlays, type NetworkPolicyRule } from "../helpers/k8s-render.js";

useRenderedOverlays();

const TLS_CONF = readFileSync(new URL("../../deploy/k8s/components/rabbitmq-tls/rabbitmq-tls.conf", import.meta.url), "utf8");

interface Mount { name: string; mountPath: string; subPath?: string; readOnly?: boolean }
interface Volume { name: string; secret?: { secretName: string; items?: { key: string; path: string }[] }; configMap?: { name: string } }
type Pod = { containers: { name: string; ports?: { name: string; containerPort: number }[]; volumeMounts?: Mount[]; env?: { name: string; value?: string }[] }[]; volumes?: Volume[] };

const pod = (obj: K8sObject) => podTemplate(obj).spec as unknown as Pod;
const servicePorts = (name: string) => (find("prod-hardened", "Service", name).spec as { ports: { port: number }[] }).ports.map((p) => p.port);

describe("overlay prod-hardened: components/rabbitmq-tls", () => {
  it("gives the broker its TLS settings as a conf.d file read after the base's", () => {
    expect(findGenerated("prod-hardened", "ConfigMap", "rabbitmq-config").data).toMatchObject({ "rabbitmq-tls.conf": TLS_CONF });
    const broker = pod(find("prod-hardened", "StatefulSet", "rabbitmq")).containers.find((c) => c.name === "rabbitmq");
    const mounts = broker?.volumeMounts ?? [];
    expect(mounts).toContainEqual(expect.objectContaining({ mountPath: "/etc/rabbitmq/conf.d/91-matchflow-tls.conf", subPath: "rabbitmq-tls.conf" }));
    expect(mounts).toContainEqual(expect.objectContaining({ mountPath: "/etc/rabbitmq/conf.d/90-matchflow.conf" }));
    expect(broker?.ports?.map((p) => p.containerPort).sort()).toEqual([15671, 15672, 15692, 5671].sort());
  });

  it("mounts the Secret rabbitmq-tls where the settings look for tls.crt, tls.key and ca.crt", () => {
    const spec = pod(find("prod-hardened", "StatefulSet", "rabbitmq"));
    const mount = spec.containers.find((c) => c.name === "rabbitmq")?.volumeMounts?.find((m) => m.name === "tls");
    expect(spec.volumes?.find((v) => v.name === "tls")?.secret?.secretName).toBe("rabbitmq-tls");
    const files = [...TLS_CONF.matchAll(/^[a-z_.]+file = (\S+)$/gm)].map((m) => m[1]);
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const file of files) expect(file).toMatch(new RegExp(`^${mount?.mountPath}/(tls\\.crt|tls\\.key|ca\\.crt)$`));
  });

  it("opens only the TLS ports to the clients: Services and NetworkPolicy", () => {
    expect(servicePorts("rabbitmq").sort()).toEqual([15671, 15692, 5671].sort());
    expect(servicePorts("rabbitmq-headless")).toEqual([5671]);
    const ingress = (find("prod-hardened", "NetworkPolicy", "rabbitmq-clients").spec as { ingress: NetworkPolicyRule[] }).ingress;
    expect(ingress.flatMap((r) => r.ports?.map((p) => p.port) ?? []).sort()).toEqual([15671, 5671].sort());
    // prod, without the component, is unchanged.
    expect((find("prod", "Service", "rabbitmq").spec as { ports: { port: number }[] }).ports.map((p) => p.port)).toContain(5672);
  });

  it("the worker and the scraper trust the broker's CA through NODE_EXTRA_CA_CERTS, with ca.crt alone mounted", () => {
    for (const [kind, name, container] of [["Deployment", "matchflow-worker", "worker"], ["CronJob", "matchflow-scraper", "scraper"]] as const) {
      const spec = pod(find("prod-hardened", kind, name));
      const c = spec.containers.find((x) => x.name === container);
      const caPath = c?.env?.find((e) => e.name === "NODE_EXTRA_CA_CERTS")?.value ?? "";
      const mount = c?.volumeMounts?.find((m) => caPath.startsWith(`${m.mountPath}/`));
      const volume = spec.volumes?.find((v) => v.name === mount?.name);
      expect(volume?.secret, `${name}`).toEqual({ secretName: "rabbitmq-tls", items: [{ key: "ca.crt", path: caPath.slice((mount?.mountPath.length ?? 0) + 1) }] });
      expect(mount?.readOnly).toBe(true);
    }
  });

  it("the clients' URLs are amqps:// and https:// on the TLS ports", () => {
    const secrets = secretData("prod-hardened", "matchflow-secrets");
    expect(secrets.RABBITMQ_URL).toMatch(/^amqps:\/\/[^@]+@rabbitmq\.matchflow\.svc:5671\//);
    expect(secrets.RABBITMQ_MANAGEMENT_URL).toMatch(/^https:\/\/[^@]+@rabbitmq\.matchflow\.svc:15671$/);
    expect(secrets.DATABASE_URL).toBe(secretData("prod", "matchflow-secrets").DATABASE_URL);
  });
});

interface EgressPolicy {
  metadata: { name: string };
  spec: {
    podSelector: { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values: string[] }[] };
    policyTypes: string[];
    egress?: { to?: { podSelector?: { matchLabels?: Record<string, string> }; namespaceSelector?: { matchLabels?: Record<string, string> } }[]; ports?: { port: number; protocol: string }[] }[];
  };
}

const egressPolicies = () => (objects("prod-hardened").filter((o) => o.kind === "NetworkPolicy") as unknown as EgressPolicy[]).filter((p) => p.spec.policyTypes.includes("Egress"));

function selects(policy: EgressPolicy, labels: Record<string, string>): boolean {
  const { matchLabels = {}, matchExpressions = [] } = policy.spec.podSelector;
  return Object.entries(matchLabels).every(([k, v]) => labels[k] === v) && matchExpressions.every((e) => e.operator === "In" && e.values.includes(labels[e.key] ?? ""));
}

/** "port/protocol -> destination" for every connection a pod with `labels` may open. */
function allowed(labels: Record<string, string>): Set<string> {
  const out = new Set<string>();
  for (const p of egressPolicies().filter((x) => selects(x, labels))) {
    for (const rule of p.spec.egress ?? []) {
      const to = rule.to?.map((t) => t.podSelector?.matchLabels?.["app.kubernetes.io/name"] ?? t.podSelector?.matchLabels?.["k8s-app"] ?? "?") ?? ["anywhere"];
      for (const port of rule.ports ?? []) for (const dest of to) out.add(`${port.port}/${port.protocol} -> ${dest}`);
    }
  }
  return out;
}

const podLabels = (kind: string, name: string) => podTemplate(find("prod-hardened", kind, name)).metadata?.labels ?? {};
const port = (url: string | undefined) => { const u = new URL(url ?? ""); return Number(u.port || { "https:": 443, "http:": 80, "amqps:": 5671, "amqp:": 5672 }[u.protocol]); };

describe("overlay prod-hardened: components/egress", () => {
  const secrets = () => secretData("prod-hardened", "matchflow-secrets");
  const dns = ["53/UDP -> kube-dns", "53/TCP -> kube-dns"];

  it("denies egress to every pod unless a policy allows it, and allows DNS to all", () => {
    const deny = egressPolicies().find((p) => p.metadata.name === "default-deny-egress");
    expect(deny?.spec).toEqual({ podSelector: {}, policyTypes: ["Egress"] });
    for (const [kind, name] of [["StatefulSet", "rabbitmq"], ["Deployment", "matchflow-worker"], ["CronJob", "matchflow-scraper"], ["Job", "matchflow-migrate"]] as const) {
      for (const rule of dns) expect([...allowed(podLabels(kind, name))], name).toContain(rule);
    }
  });

  it("the worker reaches the broker on its URLs' ports and the database on DATABASE_URL's port; nothing else", () => {
    const broker = [port(secrets().RABBITMQ_URL), port(secrets().RABBITMQ_MANAGEMENT_URL)];
    expect(broker).toEqual([5671, 15671]);
    const got = allowed(podLabels("Deployment", "matchflow-worker"));
    for (const p of broker) expect([...got]).toContain(`${p}/TCP -> rabbitmq`);
    expect([...got]).toContain(`${port(secrets().DATABASE_URL?.replace(/^postgres/, "http"))}/TCP -> anywhere`);
    expect([...got].filter((r) => r.endsWith("anywhere"))).toEqual(["5432/TCP -> anywhere"]);
  });

  it("the scraper reaches the broker and the feeds' HTTPS port, not the database; the migration only the database; RabbitMQ only DNS", () => {
    const config = loadConfig({});
    const scraper = [...allowed(podLabels("CronJob", "matchflow-scraper"))];
    expect(scraper).toContain(`${port(secrets().RABBITMQ_URL)}/TCP -> rabbitmq`);
    const feeds = new Set([port(config.scrape.assistBaseUrl), port(config.scrape.modular11BaseUrl)]);
    expect(scraper.filter((r) => r.endsWith("anywhere"))).toEqual([...feeds].map((p) => `${p}/TCP -> anywhere`));
    expect([...allowed(podLabels("Job", "matchflow-migrate"))].sort()).toEqual([...dns, "5432/TCP -> anywhere"].sort());
    expect([...allowed(podLabels("StatefulSet", "rabbitmq"))].sort()).toEqual([...dns].sort());
  });
});

/**
 * The invariants of the Kubernetes deployment (issue 6, section 3), checked on what
 * `kubectl kustomize` really renders for each overlay (with the committed placeholder secret
 * files), not on the source YAML: probes, grace period, non-root, no plaintext secrets,
 * NetworkPolicies, CronJob schedule, the RabbitMQ topology matching the code, and KEDA wiring.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEPLOYED_SCRAPER_CONFIRM_WINDOW, DEPLOYED_SCRAPER_MALLOC_ARENA_MAX, DEPLOYED_SCRAPER_NODE_ARGS, DEPLOYED_WORKER_NODE_ARGS } from "../../bench/lib/deployed.js";
import { parse as parseYaml } from "yaml";
import { delayQueueArguments, topologyNames } from "../../src/broker/topology-names.js";
import { loadConfig, parseDurationMs } from "../../src/config.js";
import { createRenderWorkspace, OVERLAYS, REPO_ROOT, validateObject, validateObjects } from "../../scripts/validate-deploy.js";
import type { K8sObject, OverlayName, RenderWorkspace } from "../../scripts/validate-deploy.js";

// --- minimal shapes of the rendered objects this test reads ---------------------------------
interface EnvVar { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }
interface Probe { httpGet?: { path: string; port: string | number }; exec?: { command: string[] } }
interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name?: string; containerPort: number }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { postStart?: { exec?: { command: string[] } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { runAsNonRoot?: boolean; allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[] } };
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  terminationGracePeriodSeconds?: number;
  automountServiceAccountToken?: boolean;
  restartPolicy?: string;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
}
interface PodTemplate { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec }
interface NetworkPolicyRule {
  from?: { podSelector?: { matchLabels?: Record<string, string> }; namespaceSelector?: { matchLabels?: Record<string, string> } }[];
  ports?: { port: number }[];
}

const rendered = new Map<OverlayName, K8sObject[]>();
let ws: RenderWorkspace;

beforeAll(() => {
  ws = createRenderWorkspace();
  for (const overlay of OVERLAYS) rendered.set(overlay, ws.render(overlay));
}, 60_000);
afterAll(() => ws?.cleanup());

function objects(overlay: OverlayName): K8sObject[] {
  const list = rendered.get(overlay);
  if (!list) throw new Error(`overlay ${overlay} was not rendered`);
  return list;
}
function find(overlay: OverlayName, kind: string, name: string): K8sObject {
  const obj = objects(overlay).find((o) => o.kind === kind && o.metadata.name === name);
  if (!obj) throw new Error(`${overlay}: no ${kind}/${name}`);
  return obj;
}
/** Generated ConfigMaps and Secrets carry a hash suffix: find them by their base name. */
function findGenerated(overlay: OverlayName, kind: "ConfigMap" | "Secret", baseName: string): K8sObject {
  const matches = objects(overlay).filter((o) => o.kind === kind && new RegExp(`^${baseName}-[a-z0-9]{10}$`).test(o.metadata.name));
  expect(matches, `${overlay}: exactly one generated ${kind} ${baseName}-<hash>`).toHaveLength(1);
  return matches[0] as K8sObject;
}
function podTemplate(obj: K8sObject): PodTemplate {
  const spec = obj.spec as { template?: PodTemplate; jobTemplate?: { spec: { template: PodTemplate } } };
  const t = obj.kind === "CronJob" ? spec.jobTemplate?.spec.template : spec.template;
  if (!t) throw new Error(`${obj.kind}/${obj.metadata.name} has no pod template`);
  return t;
}
function workloads(overlay: OverlayName): K8sObject[] {
  return objects(overlay).filter((o) => ["Deployment", "StatefulSet", "CronJob", "Job"].includes(o.kind));
}
function allContainers(t: PodTemplate): Container[] {
  return [...(t.spec.initContainers ?? []), ...t.spec.containers];
}
function configData(overlay: OverlayName): Record<string, string> {
  return (findGenerated(overlay, "ConfigMap", "matchflow-config").data ?? {}) as Record<string, string>;
}
function secretData(overlay: OverlayName, baseName: string): Record<string, string> {
  const data = (findGenerated(overlay, "Secret", baseName).data ?? {}) as Record<string, string>;
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v.replace(/\s+/g, ""), "base64").toString("utf8")]));
}
function workerContainer(overlay: OverlayName): Container {
  const c = podTemplate(find(overlay, "Deployment", "matchflow-worker")).spec.containers.find((x) => x.name === "worker");
  if (!c) throw new Error("no worker container");
  return c;
}
const isMatchflowImage = (image: string) => /(^|\/)matchflow(:|@|$)/.test(image);
const PASSWORD_IN_URL = /:\/\/[^/\s:@]+:[^@\s/]+@/;
const SECRET_LIKE_NAME = /PASS|SECRET|TOKEN|PRIVATE|CREDENTIAL|API_?KEY/i;

describe("schema", () => {
  it.each(OVERLAYS)("every object rendered for %s validates against its Kubernetes schema", async (overlay) => {
    expect(await validateObjects(objects(overlay))).toEqual([]);
  });

  it("the validator rejects a wrong field type and an unknown kind (it is not a no-op)", async () => {
    const worker = structuredClone(find("prod", "Deployment", "matchflow-worker"));
    (podTemplate(worker).spec.containers[0] as Container).ports = [{ name: "metrics", containerPort: "9808" as unknown as number }];
    expect((await validateObject(worker)).join("\n")).toMatch(/containerPort/);
    expect(await validateObject({ apiVersion: "v1", kind: "NoSuchKind", metadata: { name: "x" } })).toHaveLength(1);
  });
});

describe("namespace", () => {
  it.each(OVERLAYS)("%s: every object except the Namespace itself lives in `matchflow`", (overlay) => {
    for (const o of objects(overlay)) {
      if (o.kind === "Namespace") expect(o.metadata.name).toBe("matchflow");
      else expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe("matchflow");
    }
  });
});

describe("worker Deployment", () => {
  it("has liveness /healthz and readiness /readyz on the METRICS_PORT container port", () => {
    for (const overlay of OVERLAYS) {
      const c = workerContainer(overlay);
      const metricsPort = Number(configData(overlay).METRICS_PORT);
      expect(c.ports).toContainEqual({ name: "metrics", containerPort: metricsPort });
      expect(c.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "metrics" });
      expect(c.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "metrics" });
      expect(c.args).toEqual(["worker"]);
      expect(c.resources?.requests?.cpu && c.resources.limits?.memory).toBeTruthy();
    }
  });

  it("runs 2 replicas x WORKER_CONCURRENCY 4 in prod", () => {
    expect((find("prod", "Deployment", "matchflow-worker").spec as { replicas: number }).replicas).toBe(2);
    expect(configData("prod").WORKER_CONCURRENCY).toBe("4");
    expect(configData("prod").LOG_LEVEL).toBe("info");
    expect(configData("dev").LOG_LEVEL).toBe("debug");
  });

  it("gives the pod more time to stop than SHUTDOWN_GRACE (with 10 s to spare)", () => {
    for (const overlay of OVERLAYS) {
      const graceMs = parseDurationMs(configData(overlay).SHUTDOWN_GRACE ?? "");
      expect(graceMs).toBeGreaterThan(0);
      const podSeconds = podTemplate(find(overlay, "Deployment", "matchflow-worker")).spec.terminationGracePeriodSeconds ?? 30;
      expect(podSeconds * 1000).toBeGreaterThanOrEqual((graceMs as number) + 10_000);
    }
  });

  it("is scraped by Prometheus on the metrics port", () => {
    const annotations = podTemplate(find("prod", "Deployment", "matchflow-worker")).metadata?.annotations ?? {};
    expect(annotations).toMatchObject({ "prometheus.io/scrape": "true", "prometheus.io/port": configData("prod").METRICS_PORT, "prometheus.io/path": "/metrics" });
  });

  it("caps the worker's heap exactly as the benchmark runs it", () => {
    const env = (workerContainer("prod") as { env?: { name: string; value?: string }[] }).env ?? [];
    expect(env.find((e) => e.name === "NODE_OPTIONS")?.value).toBe(DEPLOYED_WORKER_NODE_ARGS);
  });

  it("uses the overlay's image tag (pinned in prod, never latest)", () => {
    expect(workerContainer("prod").image).toMatch(/matchflow:\d+\.\d+\.\d+$/);
    expect(workerContainer("dev").image).toBe("matchflow:dev");
  });
});

describe("security", () => {
  it.each(OVERLAYS)("%s: every container is non-root, without privilege escalation or capabilities", (overlay) => {
    for (const w of workloads(overlay)) {
      const t = podTemplate(w);
      expect(t.spec.automountServiceAccountToken, `${w.metadata.name} mounts no API token`).toBe(false);
      for (const c of allContainers(t)) {
        const where = `${w.kind}/${w.metadata.name}/${c.name}`;
        expect(c.securityContext?.runAsNonRoot ?? t.spec.securityContext?.runAsNonRoot, `${where} runAsNonRoot`).toBe(true);
        expect(t.spec.securityContext?.runAsUser ?? 0, `${where} runAsUser`).toBeGreaterThan(0);
        expect(c.securityContext?.allowPrivilegeEscalation, `${where} allowPrivilegeEscalation`).toBe(false);
        expect(c.securityContext?.capabilities?.drop, `${where} drops ALL capabilities`).toEqual(["ALL"]);
        if (isMatchflowImage(c.image)) expect(c.securityContext?.readOnlyRootFilesystem, `${where} readOnlyRootFilesystem`).toBe(true);
      }
    }
  });

  it("renders matchflow containers for the worker, scraper and migration (the image check above is not vacuous)", () => {
    const names = workloads("prod").flatMap((w) => allContainers(podTemplate(w)).filter((c) => isMatchflowImage(c.image)).map((c) => `${w.metadata.name}/${c.name}`));
    expect(names.sort()).toEqual(["matchflow-migrate/migrate", "matchflow-scraper/scraper", "matchflow-worker/migrate", "matchflow-worker/worker"]);
  });
});

describe("no plaintext secrets", () => {
  it.each(OVERLAYS)("%s: Secrets exist only as generated (hash-suffixed) objects", (overlay) => {
    const secrets = objects(overlay).filter((o) => o.kind === "Secret");
    expect(secrets.map((s) => s.metadata.name.replace(/-[a-z0-9]{10}$/, "")).sort()).toEqual(["matchflow-secrets", "rabbitmq-credentials"]);
    findGenerated(overlay, "Secret", "matchflow-secrets");
    findGenerated(overlay, "Secret", "rabbitmq-credentials");
  });

  it.each(OVERLAYS)("%s: no ConfigMap or env value carries a credential", (overlay) => {
    for (const cm of objects(overlay).filter((o) => o.kind === "ConfigMap")) {
      for (const [key, value] of Object.entries((cm.data ?? {}) as Record<string, string>)) {
        expect(value, `${cm.metadata.name}/${key}`).not.toMatch(PASSWORD_IN_URL);
        if (!key.includes(".")) expect(key, `${cm.metadata.name}/${key}`).not.toMatch(SECRET_LIKE_NAME);
        expect(value, `${cm.metadata.name}/${key}`).not.toMatch(/^\s*(default_pass|default_user)\s*=/m);
      }
    }
    for (const w of workloads(overlay)) {
      for (const c of allContainers(podTemplate(w))) {
        for (const env of c.env ?? []) {
          if (env.value !== undefined) {
            expect(env.name, `${w.metadata.name}/${c.name} env ${env.name}`).not.toMatch(SECRET_LIKE_NAME);
            expect(env.value).not.toMatch(PASSWORD_IN_URL);
          }
        }
        for (const ref of c.envFrom ?? []) {
          if (ref.secretRef) expect(ref.secretRef.name).toMatch(/^matchflow-secrets-[a-z0-9]{10}$/);
        }
      }
    }
  });

  it("the RabbitMQ definitions create no users and hold no password", () => {
    const defs = JSON.parse(readFileSync(path.join(REPO_ROOT, "deploy/k8s/base/rabbitmq/definitions.json"), "utf8")) as Record<string, unknown>;
    expect(defs.users).toBeUndefined();
    expect(JSON.stringify(defs)).not.toMatch(/pass|hash/i);
  });

  it("committed secret files are examples with placeholders only; real ones are git-ignored", () => {
    const tracked = execFileSync("git", ["ls-files", "deploy"], { cwd: REPO_ROOT, encoding: "utf8" }).split("\n");
    expect(tracked.filter((f) => /\/secrets\/[^/]+\.env$/.test(f))).toEqual([]);
    const check = execFileSync("git", ["check-ignore", "deploy/k8s/overlays/prod/secrets/matchflow.env"], { cwd: REPO_ROOT, encoding: "utf8" });
    expect(check.trim()).toBe("deploy/k8s/overlays/prod/secrets/matchflow.env");
    const examples = tracked.filter((f) => f.endsWith(".env.example"));
    expect(examples.length).toBeGreaterThanOrEqual(4);
    for (const file of examples) {
      for (const line of readFileSync(path.join(REPO_ROOT, file), "utf8").split("\n")) {
        const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
        if (!m) continue;
        const [, key = "", value = ""] = m;
        if (/PASS/.test(key)) expect(value, `${file} ${key}`).toBe("__SET_ME__");
        const url = /:\/\/[^/\s:@]+:([^@\s/]+)@/.exec(value);
        if (url) expect(url[1], `${file} ${key}`).toBe("__SET_ME__");
      }
    }
  });

  it("no committed manifest under deploy/ declares a Secret or a password", () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir)) {
        const full = path.join(dir, e);
        if (statSync(full).isDirectory()) walk(full);
        else if (/\.(ya?ml|json|conf)$/.test(e)) files.push(full);
      }
    };
    walk(path.join(REPO_ROOT, "deploy"));
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      const text = readFileSync(f, "utf8");
      expect(text, f).not.toMatch(/^kind:\s*Secret\s*$/m);
      expect(text, f).not.toMatch(PASSWORD_IN_URL);
      expect(text, f).not.toMatch(/(password|default_pass)\s*[:=]\s*\S/i);
    }
  });
});

describe("settings", () => {
  it.each(OVERLAYS)("%s: the ConfigMap plus the example secrets is a valid matchflow configuration", (overlay) => {
    const env = { ...configData(overlay), ...secretData(overlay, "matchflow-secrets") };
    const config = loadConfig(env);
    expect(config.worker.concurrency).toBe(4);
    expect(config.topology.queue).toBe("matches");
  });
});

describe("scraper CronJob and migration Job", () => {
  it("scrapes daily at 06:00 UTC, never two at once", () => {
    for (const overlay of OVERLAYS) {
      const spec = find(overlay, "CronJob", "matchflow-scraper").spec as Record<string, unknown>;
      expect(spec).toMatchObject({ schedule: "0 6 * * *", timeZone: "UTC", concurrencyPolicy: "Forbid" });
      const t = podTemplate(find(overlay, "CronJob", "matchflow-scraper"));
      expect(t.spec.containers[0]?.args).toEqual(["scrape"]);
      expect(t.metadata?.labels?.["matchflow.io/broker-client"]).toBe("true");
    }
  });

  it("caps the scraper's heap, malloc arenas and confirm window exactly as the benchmark runs it", () => {
    for (const overlay of OVERLAYS) {
      const env = (podTemplate(find(overlay, "CronJob", "matchflow-scraper")).spec.containers[0] as { env?: { name: string; value?: string }[] }).env ?? [];
      expect(env.find((e) => e.name === "NODE_OPTIONS")?.value).toBe(DEPLOYED_SCRAPER_NODE_ARGS);
      expect(env.find((e) => e.name === "MALLOC_ARENA_MAX")?.value).toBe(DEPLOYED_SCRAPER_MALLOC_ARENA_MAX);
      expect(env.find((e) => e.name === "PUBLISH_CONFIRM_WINDOW")?.value).toBe(DEPLOYED_SCRAPER_CONFIRM_WINDOW);
    }
  });

  it("migrates with `matchflow migrate`, also before every worker starts", () => {
    expect(podTemplate(find("prod", "Job", "matchflow-migrate")).spec.containers[0]?.args).toEqual(["migrate"]);
    expect(podTemplate(find("prod", "Deployment", "matchflow-worker")).spec.initContainers?.[0]?.args).toEqual(["migrate"]);
  });
});

describe("NetworkPolicies", () => {
  function policies(overlay: OverlayName) {
    return objects(overlay).filter((o) => o.kind === "NetworkPolicy") as (K8sObject & { spec: { podSelector: { matchLabels?: Record<string, string> }; policyTypes: string[]; ingress?: NetworkPolicyRule[] } })[];
  }

  it("deny ingress by default and open RabbitMQ 5672/15672 only to broker clients", () => {
    for (const overlay of OVERLAYS) {
      const all = policies(overlay);
      expect(all.some((p) => Object.keys(p.spec.podSelector).length === 0 && p.spec.policyTypes.includes("Ingress") && !p.spec.ingress)).toBe(true);
      const forRabbit = all.filter((p) => p.spec.podSelector.matchLabels?.["app.kubernetes.io/name"] === "rabbitmq");
      expect(forRabbit.length).toBeGreaterThan(0);
      for (const p of forRabbit) {
        for (const rule of p.spec.ingress ?? []) {
          expect(rule.from?.length, `${p.metadata.name}: a rule without 'from' would admit everyone`).toBeGreaterThan(0);
          if (rule.ports?.some((x) => x.port === 5672 || x.port === 15672)) {
            for (const peer of rule.from ?? []) {
              const fromKeda = peer.namespaceSelector?.matchLabels?.["kubernetes.io/metadata.name"] === "keda";
              if (!fromKeda) expect(peer, p.metadata.name).toEqual({ podSelector: { matchLabels: { "matchflow.io/broker-client": "true" } } });
            }
          }
        }
      }
    }
  });

  it("label exactly the worker and the scraper as broker clients", () => {
    const clients = workloads("prod").filter((w) => podTemplate(w).metadata?.labels?.["matchflow.io/broker-client"] === "true").map((w) => w.metadata.name);
    expect(clients.sort()).toEqual(["matchflow-scraper", "matchflow-worker"]);
  });
});

describe("RabbitMQ", () => {
  function rabbit(overlay: OverlayName): Container {
    const c = podTemplate(find(overlay, "StatefulSet", "rabbitmq")).spec.containers.find((x) => x.name === "rabbitmq");
    if (!c) throw new Error("no rabbitmq container");
    return c;
  }

  it("has rabbitmq-diagnostics probes, a volume claim and credentials only from the Secret", () => {
    const c = rabbit("prod");
    for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) expect(probe?.exec?.command[0]).toBe("rabbitmq-diagnostics");
    const sts = find("prod", "StatefulSet", "rabbitmq").spec as { volumeClaimTemplates: { spec: { resources: { requests: { storage: string } } } }[] };
    expect(sts.volumeClaimTemplates[0]?.spec.resources.requests.storage).toBe("20Gi");
    const secretName = findGenerated("prod", "Secret", "rabbitmq-credentials").metadata.name;
    for (const name of ["RABBITMQ_DEFAULT_USER", "RABBITMQ_DEFAULT_PASS", "MATCHFLOW_RABBITMQ_USER", "MATCHFLOW_RABBITMQ_PASS"]) {
      expect(c.env?.find((e) => e.name === name)?.valueFrom?.secretKeyRef).toEqual({ name: secretName, key: name });
    }
    expect(c.lifecycle?.postStart?.exec?.command.join(" ")).toContain("post-start.sh");
  });

  it("enables the management and prometheus plugins with per-queue metrics", () => {
    const data = findGenerated("prod", "ConfigMap", "rabbitmq-config").data as Record<string, string>;
    expect(data.enabled_plugins).toMatch(/rabbitmq_management/);
    expect(data.enabled_plugins).toMatch(/rabbitmq_prometheus/);
    expect(data["rabbitmq.conf"]).toMatch(/^prometheus\.return_per_object_metrics = true$/m);
    expect(data["post-start.sh"]).toMatch(/import_definitions/);
    execFileSync("sh", ["-n", path.join(REPO_ROOT, "deploy/k8s/base/rabbitmq/post-start.sh")]);
  });

  it("the definitions declare exactly the topology matchflow declares for the ConfigMap's settings", () => {
    const defs = JSON.parse(findGenerated("prod", "ConfigMap", "rabbitmq-config").data ? (findGenerated("prod", "ConfigMap", "rabbitmq-config").data as Record<string, string>)["definitions.json"] ?? "" : "") as {
      exchanges: { name: string; type: string; durable: boolean }[];
      queues: { name: string; durable: boolean; arguments: Record<string, unknown> }[];
      bindings: { source: string; destination: string; routing_key: string }[];
      policies: { pattern: string; definition: Record<string, unknown> }[];
    };
    const config = loadConfig({ ...configData("prod"), ...secretData("prod", "matchflow-secrets") });
    const names = topologyNames(config.topology, config.retry);
    expect(defs.exchanges.map((e) => [e.name, e.type, e.durable])).toEqual([[names.exchange, "direct", true], [names.deadLetterExchange, "fanout", true]]);
    const queues = Object.fromEntries(defs.queues.map((q) => [q.name, q.arguments]));
    expect(queues[names.queue]).toEqual({});
    expect(queues[names.deadLetterQueue]).toEqual({});
    expect(names.delayQueues.length).toBe(3);
    for (const delay of names.delayQueues) expect(queues[delay.name], delay.name).toEqual(delayQueueArguments(names, delay, config.topology.queueType));
    expect(Object.keys(queues)).toHaveLength(2 + names.delayQueues.length);
    expect(defs.bindings.map((b) => [b.source, b.destination, b.routing_key])).toEqual([
      [names.exchange, names.queue, names.routingKey],
      [names.deadLetterExchange, names.deadLetterQueue, names.deadLetterRoutingKey],
    ]);
    expect(defs.policies).toEqual([
      expect.objectContaining({ pattern: `^${names.queue}$`, definition: { "dead-letter-exchange": names.deadLetterExchange, "dead-letter-routing-key": names.deadLetterRoutingKey, "queue-version": 2 } }),
    ]);
  });
});

describe("KEDA component (prod-autoscaled)", () => {
  it("scales the worker on the work queue with the generated broker Secret", () => {
    const so = find("prod-autoscaled", "ScaledObject", "matchflow-worker").spec as {
      scaleTargetRef: { name: string };
      minReplicaCount: number;
      triggers: { type: string; metadata: Record<string, string>; authenticationRef: { name: string } }[];
    };
    expect(so.scaleTargetRef.name).toBe("matchflow-worker");
    expect(so.minReplicaCount).toBe(2);
    expect(so.triggers[0]).toMatchObject({ type: "rabbitmq", metadata: { queueName: configData("prod-autoscaled").MATCHES_QUEUE, mode: "QueueLength" } });
    const auth = find("prod-autoscaled", "TriggerAuthentication", so.triggers[0]?.authenticationRef.name ?? "").spec as { secretTargetRef: { name: string; key: string }[] };
    expect(auth.secretTargetRef[0]).toMatchObject({ name: findGenerated("prod-autoscaled", "Secret", "matchflow-secrets").metadata.name, key: "RABBITMQ_URL" });
    expect((find("prod-autoscaled", "Deployment", "matchflow-worker").spec as { replicas?: number }).replicas).toBeUndefined();
    expect(objects("prod").some((o) => o.kind === "ScaledObject")).toBe(false);
  });
});

describe("Dockerfile", () => {
  const dockerfile = readFileSync(path.join(REPO_ROOT, "Dockerfile"), "utf8");
  const lines = dockerfile.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));
  const stages = lines.reduce<string[][]>((acc, line) => {
    if (/^FROM\s/i.test(line)) acc.push([]);
    acc.at(-1)?.push(line);
    return acc;
  }, []);
  const runtime = stages.at(-1) ?? [];

  it("is multi-stage and the runtime stage runs as a numeric non-root user", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const users = runtime.filter((l) => /^USER\s/i.test(l));
    expect(users).toHaveLength(1);
    const uid = Number(/^USER\s+(\d+)/i.exec(users[0] ?? "")?.[1]);
    expect(uid).toBeGreaterThan(0);
  });

  it("installs production dependencies only in the runtime stage and copies what the CLI needs", () => {
    expect(runtime.some((l) => /npm ci\b.*--omit=dev/.test(l))).toBe(true);
    expect(runtime.some((l) => /npm (install|i)\b/.test(l))).toBe(false);
    for (const dir of ["dist", "migrations", "schema", "samples"]) expect(runtime.some((l) => new RegExp(`^COPY\\b.*\\b${dir}\\b`).test(l)), dir).toBe(true);
    expect(runtime.find((l) => /^ENTRYPOINT/.test(l))).toContain("dist/cli/main.js");
  });

  it(".dockerignore keeps secrets, node_modules and git out of the build context", () => {
    const ignored = readFileSync(path.join(REPO_ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim());
    for (const p of [".git", "node_modules", "**/secrets/*.env", ".env"]) expect(ignored).toContain(p);
  });
});

describe("deploy/ YAML", () => {
  it("every committed YAML file parses", () => {
    const out = execFileSync("git", ["ls-files", "deploy"], { cwd: REPO_ROOT, encoding: "utf8" }).split("\n").filter((f) => /\.ya?ml$/.test(f));
    expect(out.length).toBeGreaterThan(10);
    for (const f of out) {
      const text = readFileSync(path.join(REPO_ROOT, f), "utf8");
      for (const doc of text.split(/^---$/m)) expect(() => parseYaml(doc) as unknown, f).not.toThrow();
    }
  });
});

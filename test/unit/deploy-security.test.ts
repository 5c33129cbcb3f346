/**
 * Security of the rendered deployment (every overlay): non-root containers without privilege
 * escalation or capabilities, no plaintext secrets (rendered or committed), and NetworkPolicies
 * that deny ingress by default and open RabbitMQ only to the labelled broker clients.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { OVERLAYS, REPO_ROOT } from "../../scripts/validate-deploy.js";
import type { K8sObject, OverlayName } from "../../scripts/validate-deploy.js";
import { allContainers, findGenerated, objects, podTemplate, useRenderedOverlays, workloads } from "../helpers/k8s-render.js";
import type { NetworkPolicyRule } from "../helpers/k8s-render.js";

useRenderedOverlays();

const isMatchflowImage = (image: string) => /(^|\/)matchflow(:|@|$)/.test(image);
const PASSWORD_IN_URL = /:\/\/[^/\s:@]+:[^@\s/]+@/;
const SECRET_LIKE_NAME = /PASS|SECRET|TOKEN|PRIVATE|CREDENTIAL|API_?KEY/i;

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
    expect(names.sort()).toEqual(["matchflow-migrate/migrate", "matchflow-scraper/scraper", "matchflow-worker/worker"]);
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

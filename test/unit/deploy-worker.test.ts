/**
 * The worker Deployment as rendered for each overlay: probes on the metrics port, replicas and
 * concurrency, a grace period longer than SHUTDOWN_GRACE, Prometheus scraping, the benchmark's
 * node flags, image tags; and the rendered ConfigMap plus example secrets is a valid configuration.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DEPLOYED_WORKER_NODE_ARGS } from "../../bench/lib/deployed.js";
import { ENV_VARIABLES, loadConfig, parseDurationMs } from "../../src/config.js";
import { OVERLAYS } from "../../scripts/validate-deploy.js";
import type { OverlayName } from "../../scripts/validate-deploy.js";
import { allContainers, configData, find, objects, podTemplate, secretData, useRenderedOverlays, workloads } from "../helpers/k8s-render.js";
import type { Container } from "../helpers/k8s-render.js";

useRenderedOverlays();

function workerContainer(overlay: OverlayName): Container {
  const c = podTemplate(find(overlay, "Deployment", "matchflow-worker")).spec.containers.find((x) => x.name === "worker");
  if (!c) throw new Error("no worker container");
  return c;
}

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

  it("lets a node drain evict a worker in every overlay, one at a time (minAvailable 1 blocked every drain of dev's single replica)", () => {
    for (const overlay of OVERLAYS) {
      const replicas = (find(overlay, "Deployment", "matchflow-worker").spec as { replicas: number }).replicas;
      const budget = find(overlay, "PodDisruptionBudget", "matchflow-worker").spec as { minAvailable?: number; maxUnavailable?: number };
      const evictable = budget.maxUnavailable ?? replicas - (budget.minAvailable ?? 0);
      expect(evictable, overlay).toBe(1);
    }
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

  it("runs node with the heap flags the benchmark uses, then the image's CLI", () => {
    // The command replaces the image's ENTRYPOINT: it must still start the same program.
    const entrypoint = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(readFileSync("Dockerfile", "utf8"))?.[1] ?? "[]") as string[];
    expect(entrypoint).toEqual(["node", "dist/cli/main.js"]);
    for (const overlay of OVERLAYS) {
      const c = workerContainer(overlay);
      expect(c.command).toEqual([entrypoint[0], ...DEPLOYED_WORKER_NODE_ARGS.split(" "), ...entrypoint.slice(1)]);
      // NODE_OPTIONS would add flags behind the command's back (and refuses the growth flag).
      expect(c.env?.some((e) => e.name === "NODE_OPTIONS") ?? false).toBe(false);
    }
  });

  it("uses the overlay's image tag (pinned in prod, never latest)", () => {
    expect(workerContainer("prod").image).toMatch(/matchflow:\d+\.\d+\.\d+$/);
    expect(workerContainer("dev").image).toBe("matchflow:dev");
  });
});

describe("settings", () => {
  it.each(OVERLAYS)("%s: the ConfigMap plus the example secrets is a valid matchflow configuration", (overlay) => {
    const env = { ...configData(overlay), ...secretData(overlay, "matchflow-secrets") };
    const config = loadConfig(env);
    expect(config.worker.concurrency).toBe(4);
    expect(config.topology.queue).toBe("matches");
  });

  it.each(OVERLAYS)("%s: every variable given to a matchflow container is one src/config.ts reads (a typo would silently leave the default)", (overlay) => {
    // Read by node and glibc, not by matchflow's configuration.
    const runtime = ["NODE_OPTIONS", "MALLOC_ARENA_MAX", "NODE_EXTRA_CA_CERTS"];
    const names = new Set<string>();
    for (const w of workloads(overlay)) {
      for (const c of allContainers(podTemplate(w)).filter((x) => /(^|\/)matchflow(:|@|$)/.test(x.image))) {
        for (const e of c.env ?? []) names.add(e.name);
        for (const ref of c.envFrom ?? []) {
          const source = objects(overlay).find((o) => (o.kind === "ConfigMap" && o.metadata.name === ref.configMapRef?.name) || (o.kind === "Secret" && o.metadata.name === ref.secretRef?.name));
          expect(source, `${w.metadata.name}: envFrom ${JSON.stringify(ref)}`).toBeDefined();
          for (const key of Object.keys(source?.data ?? {})) names.add(key);
        }
      }
    }
    expect(names.size).toBeGreaterThan(10);
    for (const name of names) expect([...ENV_VARIABLES, ...runtime], `${overlay}: ${name}`).toContain(name);
  });
});

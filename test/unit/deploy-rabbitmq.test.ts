/**
 * The RabbitMQ StatefulSet as rendered for prod (probes, storage, credentials from the Secret,
 * plugins), its definitions matching the topology the code declares, the worker memory each
 * overlay gives a full prefetch of the largest bodies the broker takes, and the KEDA component
 * of prod-autoscaled.
 */
import { execFileSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { delayQueueArguments, topologyNames } from "../../src/broker/topology-names.js";
import { DEPLOYED_FRAME_MAX, headerTableBudget } from "../../src/broker/fit-headers.js";
import { loadConfig } from "../../src/config.js";
import { OVERLAYS, REPO_ROOT } from "../../scripts/validate-deploy.js";
import type { OverlayName } from "../../scripts/validate-deploy.js";
import { configData, find, findGenerated, objects, podTemplate, secretData, useRenderedOverlays } from "../helpers/k8s-render.js";
import type { Container } from "../helpers/k8s-render.js";

useRenderedOverlays();

/** A Kubernetes memory quantity (`384Mi`, `1Gi`, `500M`, `1073741824`) in bytes. */
function memoryBytes(quantity: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity ?? "");
  if (!m) throw new Error(`not a memory quantity: ${String(quantity)}`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }[m[2] ?? ""] ?? 1;
  return Number(m[1]) * unit;
}

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

  it.each(OVERLAYS)("%s: caps message bodies at 2 x the worker's MAX_MESSAGE_BYTES: a full prefetch of them fits in the worker's memory limit", (overlay) => {
    const conf = (findGenerated(overlay, "ConfigMap", "rabbitmq-config").data as Record<string, string>)["rabbitmq.conf"] ?? "";
    const cap = Number(/^max_message_size = (\d+)$/m.exec(conf)?.[1]);
    // The overlay's own settings: a WORKER_PREFETCH or MAX_MESSAGE_BYTES in its ConfigMap counts.
    const config = loadConfig({ ...configData(overlay), ...secretData(overlay, "matchflow-secrets") });
    expect(cap).toBe(2 * config.maxMessageBytes);
    const worker = podTemplate(find(overlay, "Deployment", "matchflow-worker")).spec.containers.find((x) => x.name === "worker");
    const limit = memoryBytes(worker?.resources?.limits?.memory);
    // The waiting deliveries are Buffers outside the heap: a full prefetch of capped bodies plus
    // the worker's measured ~350 MB peak with 64 KiB ones stays under the overlay's memory limit
    // (dev's 384Mi with the default prefetch of 1,600 did not: 335-463 MiB measured).
    expect(config.worker.prefetch * (cap - config.maxMessageBytes) + 350 * 2 ** 20, `${overlay}: prefetch ${config.worker.prefetch}, limit ${worker?.resources?.limits?.memory}`).toBeLessThan(limit);
  });

  it("caps frame_max at the frame the worker fits its copies into: a full prefetch of the largest header tables fits in its heap", () => {
    const conf = (findGenerated("prod", "ConfigMap", "rabbitmq-config").data as Record<string, string>)["rabbitmq.conf"] ?? "";
    const frameMax = Number(/^frame_max = (\d+)$/m.exec(conf)?.[1]);
    // The worker falls back to this when it does not know the negotiated frame_max.
    expect(frameMax).toBe(DEPLOYED_FRAME_MAX);
    // Room for Celery's own headers (2-4 KB) and matchflow's failure headers (<= ~2.5 KB) besides the margin.
    expect(headerTableBudget(frameMax, { contentType: "application/json", contentEncoding: "utf-8", deliveryMode: 2, priority: 0, correlationId: "x".repeat(36) })).toBeGreaterThan(12 * 1024);
    // Decoded headers live in the V8 heap: a full prefetch of the largest string headers, two bytes per character.
    expect(loadConfig({}).worker.prefetch * frameMax * 2).toBeLessThan(64 * 2 ** 20);
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
    // The eta delay queues too: the worker would declare them itself, but a broker restored from
    // the definitions alone should not lack them (nor should an operator who reads them).
    expect(names.etaDelayQueues.length).toBe(10);
    for (const eta of names.etaDelayQueues) expect(queues[eta.name], eta.name).toEqual(delayQueueArguments(names, eta, config.topology.queueType));
    expect(Object.keys(queues)).toHaveLength(2 + names.delayQueues.length + names.etaDelayQueues.length);
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
    // KEDA's scaler runs in KEDA's namespace: the host it is given must name the broker's.
    const namespace = find("prod-autoscaled", "ScaledObject", "matchflow-worker").metadata.namespace;
    expect(new URL(secretData("prod-autoscaled", "matchflow-secrets").RABBITMQ_URL ?? "").hostname).toBe(`rabbitmq.${namespace}.svc`);
    expect((find("prod-autoscaled", "Deployment", "matchflow-worker").spec as { replicas?: number }).replicas).toBeUndefined();
    expect(objects("prod").some((o) => o.kind === "ScaledObject")).toBe(false);
  });
});

/**
 * Shared by test/unit/deploy-*.test.ts: the objects `kubectl kustomize` renders for each overlay
 * (issue 6, section 3), with the committed placeholder secret files, and helpers to read them.
 * The overlays are rendered once per vitest run by the unit project's globalSetup
 * (test/helpers/k8s-render-setup.ts); a test file that reads them calls `useRenderedOverlays()`
 * once, at top level. Files that check only committed files need neither.
 */
import { beforeAll, expect, inject } from "vitest";
import type { K8sObject, OverlayName } from "../../scripts/validate-deploy.js";

// --- minimal shapes of the rendered objects the tests read ----------------------------------
export interface EnvVar { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }
export interface Probe { httpGet?: { path: string; port: string | number }; exec?: { command: string[] } }
export interface Container {
  name: string;
  image: string;
  command?: string[];
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
export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  terminationGracePeriodSeconds?: number;
  automountServiceAccountToken?: boolean;
  restartPolicy?: string;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
}
export interface PodTemplate { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec }
export interface NetworkPolicyRule {
  from?: { podSelector?: { matchLabels?: Record<string, string> }; namespaceSelector?: { matchLabels?: Record<string, string> } }[];
  ports?: { port: number }[];
}

const rendered = new Map<OverlayName, K8sObject[]>();

/** Registers the hook that takes the overlays the globalSetup rendered (and fails if it could not). */
export function useRenderedOverlays(): void {
  beforeAll(() => {
    const { overlays, error } = inject("renderedOverlays");
    if (error !== undefined) throw new Error(`rendering the overlays failed: ${error}`);
    for (const [overlay, list] of Object.entries(overlays)) rendered.set(overlay as OverlayName, list);
  });
}

export function objects(overlay: OverlayName): K8sObject[] {
  const list = rendered.get(overlay);
  if (!list) throw new Error(`overlay ${overlay} was not rendered`);
  return list;
}
export function find(overlay: OverlayName, kind: string, name: string): K8sObject {
  const obj = objects(overlay).find((o) => o.kind === kind && o.metadata.name === name);
  if (!obj) throw new Error(`${overlay}: no ${kind}/${name}`);
  return obj;
}
/** Generated ConfigMaps and Secrets carry a hash suffix: find them by their base name. */
export function findGenerated(overlay: OverlayName, kind: "ConfigMap" | "Secret", baseName: string): K8sObject {
  const matches = objects(overlay).filter((o) => o.kind === kind && new RegExp(`^${baseName}-[a-z0-9]{10}$`).test(o.metadata.name));
  expect(matches, `${overlay}: exactly one generated ${kind} ${baseName}-<hash>`).toHaveLength(1);
  return matches[0] as K8sObject;
}
export function podTemplate(obj: K8sObject): PodTemplate {
  const spec = obj.spec as { template?: PodTemplate; jobTemplate?: { spec: { template: PodTemplate } } };
  const t = obj.kind === "CronJob" ? spec.jobTemplate?.spec.template : spec.template;
  if (!t) throw new Error(`${obj.kind}/${obj.metadata.name} has no pod template`);
  return t;
}
export function workloads(overlay: OverlayName): K8sObject[] {
  return objects(overlay).filter((o) => ["Deployment", "StatefulSet", "CronJob", "Job"].includes(o.kind));
}
export function allContainers(t: PodTemplate): Container[] {
  return [...(t.spec.initContainers ?? []), ...t.spec.containers];
}
export function configData(overlay: OverlayName): Record<string, string> {
  return (findGenerated(overlay, "ConfigMap", "matchflow-config").data ?? {}) as Record<string, string>;
}
export function secretData(overlay: OverlayName, baseName: string): Record<string, string> {
  const data = (findGenerated(overlay, "Secret", baseName).data ?? {}) as Record<string, string>;
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v.replace(/\s+/g, ""), "base64").toString("utf8")]));
}

/**
 * Renders the kustomize overlays in deploy/k8s and validates every rendered object against the
 * Kubernetes (and KEDA) JSON schema for its apiVersion/kind, offline: the schemas ship inside
 * the `kubernetes-models` and `@kubernetes-models/keda` packages, nothing is downloaded.
 *
 * The real credential files (overlays/<name>/secrets/*.env) are git-ignored, so rendering
 * happens in a temporary copy of deploy/ where each missing `*.env` is filled from its
 * committed `*.env.example` (placeholders only).
 *
 *   npx tsx scripts/validate-deploy.ts            # all overlays; exit 1 on any problem
 * Also imported by test/unit/deploy-*.test.ts.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** Every overlay CI renders; prod-autoscaled is prod plus the KEDA component, prod-hardened prod plus rabbitmq-tls and egress. */
export const OVERLAYS = ["dev", "prod", "prod-autoscaled", "prod-hardened"] as const;
export type OverlayName = (typeof OVERLAYS)[number];

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** A copy of deploy/ with placeholder secret files, removed by `cleanup()`. */
export interface RenderWorkspace {
  dir: string;
  render(overlay: OverlayName): K8sObject[];
  cleanup(): void;
}

function findFiles(dir: string, suffix: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...findFiles(full, suffix));
    else if (entry.endsWith(suffix)) out.push(full);
  }
  return out;
}

/** Parses `kubectl kustomize` output (a multi-document YAML stream). */
export function parseManifests(text: string): K8sObject[] {
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]?.message ?? "unknown error"}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    objects.push(value as K8sObject);
  }
  return objects;
}

export function createRenderWorkspace(deployDir = path.join(REPO_ROOT, "deploy")): RenderWorkspace {
  const dir = mkdtempSync(path.join(tmpdir(), "matchflow-deploy-"));
  cpSync(deployDir, path.join(dir, "deploy"), { recursive: true });
  for (const example of findFiles(path.join(dir, "deploy"), ".env.example")) {
    const real = example.slice(0, -".example".length);
    // A real file copied from the working tree is never used: renders must not depend on it.
    copyFileSync(example, real);
  }
  return {
    dir,
    render(overlay) {
      const text = execFileSync("kubectl", ["kustomize", path.join(dir, "deploy", "k8s", "overlays", overlay)], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        maxBuffer: 16 * 1024 * 1024,
      });
      return parseManifests(text);
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface ValidatableModel {
  validate(): void;
}
type ModelClass = new (data: unknown) => ValidatableModel;

/**
 * The module that holds the model class for apiVersion/kind: core `v1` lives in
 * `kubernetes-models/v1`, named groups in `kubernetes-models/<group>/<version>`, KEDA in its package.
 */
export function modelModuleFor(apiVersion: string, kind: string): string {
  if (!/^[A-Za-z0-9.\-/]+$/.test(apiVersion) || !/^[A-Za-z0-9]+$/.test(kind)) throw new Error(`unsupported apiVersion/kind ${apiVersion}/${kind}`);
  if (apiVersion.startsWith("keda.sh/")) return `@kubernetes-models/keda/${apiVersion}/${kind}`;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

/**
 * kustomize wraps long base64 values of Secret `data` over several lines; the API server's
 * decoder skips the newlines, the schema's "byte" format does not: compare without them.
 */
function normaliseForSchema(obj: K8sObject): K8sObject {
  if (obj.kind !== "Secret" || typeof obj.data !== "object" || obj.data === null) return obj;
  const data = Object.fromEntries(Object.entries(obj.data as Record<string, unknown>).map(([k, v]) => [k, typeof v === "string" ? v.replace(/\s+/g, "") : v]));
  return { ...obj, data };
}

/** Validates one object; returns the problems (empty when valid). */
export async function validateObject(obj: K8sObject): Promise<string[]> {
  const where = `${obj.kind ?? "?"}/${obj.metadata?.name ?? "?"}`;
  if (typeof obj.apiVersion !== "string" || typeof obj.kind !== "string") return [`${where}: missing apiVersion or kind`];
  let mod: Record<string, unknown>;
  try {
    mod = (await import(modelModuleFor(obj.apiVersion, obj.kind))) as Record<string, unknown>;
  } catch {
    return [`${where}: no schema for ${obj.apiVersion} ${obj.kind} (unknown kind or API version)`];
  }
  const Model = mod[obj.kind] as ModelClass | undefined;
  if (typeof Model !== "function") return [`${where}: no schema for ${obj.apiVersion} ${obj.kind}`];
  try {
    new Model(normaliseForSchema(obj)).validate();
    return [];
  } catch (err) {
    return [`${where}: ${err instanceof Error ? err.message : String(err)}`];
  }
}

export async function validateObjects(objects: K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const obj of objects) problems.push(...(await validateObject(obj)));
  return problems;
}

async function main(): Promise<number> {
  if (!existsSync(path.join(REPO_ROOT, "deploy", "k8s"))) {
    console.error("validate-deploy: deploy/k8s not found");
    return 1;
  }
  const ws = createRenderWorkspace();
  let failed = 0;
  try {
    for (const overlay of OVERLAYS) {
      let objects: K8sObject[];
      try {
        objects = ws.render(overlay);
      } catch (err) {
        const stderr = (err as { stderr?: string }).stderr ?? String(err);
        console.error(`FAIL ${overlay}: kubectl kustomize failed:\n${stderr}`);
        failed++;
        continue;
      }
      const problems = await validateObjects(objects);
      if (problems.length > 0) {
        failed++;
        console.error(`FAIL ${overlay}: ${problems.length} invalid object(s)`);
        for (const p of problems) console.error(`  - ${p}`);
      } else {
        console.log(`ok   ${overlay}: ${objects.length} objects valid (${[...new Set(objects.map((o) => o.kind))].sort().join(", ")})`);
      }
    }
  } finally {
    ws.cleanup();
  }
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}

/**
 * Every object `kubectl kustomize` renders for each overlay (with the committed placeholder
 * secret files) validates against its Kubernetes or KEDA schema, and lives in `matchflow`.
 */
import { describe, expect, it } from "vitest";
import { OVERLAYS, validateObject, validateObjects } from "../../scripts/validate-deploy.js";
import { find, objects, podTemplate, useRenderedOverlays } from "../helpers/k8s-render.js";
import type { Container } from "../helpers/k8s-render.js";

useRenderedOverlays();

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

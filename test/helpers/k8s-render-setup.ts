/**
 * globalSetup of the unit project: renders every kustomize overlay once per vitest run (in a
 * temporary copy of deploy/ with the committed placeholder secret files, via
 * scripts/validate-deploy.ts) and provides the rendered objects to test/helpers/k8s-render.ts.
 * Five test files read them; rendering in each file instead cost ~0.8 s of `kubectl` per file.
 * A failed render is provided as an error, so only the files that read the overlays fail.
 */
import type { TestProject } from "vitest/node";
import { createRenderWorkspace, OVERLAYS } from "../../scripts/validate-deploy.js";
import type { K8sObject, OverlayName } from "../../scripts/validate-deploy.js";

export type RenderedOverlays = { overlays: Partial<Record<OverlayName, K8sObject[]>>; error?: string };

declare module "vitest" {
  export interface ProvidedContext {
    renderedOverlays: RenderedOverlays;
  }
}

export default function setup(project: TestProject): void {
  const rendered: RenderedOverlays = { overlays: {} };
  try {
    const ws = createRenderWorkspace();
    try {
      for (const overlay of OVERLAYS) rendered.overlays[overlay] = ws.render(overlay);
    } finally {
      ws.cleanup();
    }
  } catch (err) {
    // execFileSync's message already carries kubectl's stderr.
    rendered.error = err instanceof Error ? err.message : String(err);
  }
  project.provide("renderedOverlays", rendered);
}

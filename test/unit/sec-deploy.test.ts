/**
 * Least privilege in the deployment, beyond deploy-security.test.ts: the application user's
 * management-API tag, and the seccomp profile of every pod.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { OVERLAYS, REPO_ROOT } from "../../scripts/validate-deploy.js";
import { podTemplate, useRenderedOverlays, workloads } from "../helpers/k8s-render.js";

useRenderedOverlays();

describe("the RabbitMQ application user", () => {
  // `monitoring` lets its holder read every vhost's queues, every user's connections and channels
  // (peer addresses, client properties) and the node's own figures. `queue status` reads its own
  // vhost's queues and /api/overview, which `management` allows (checked against RabbitMQ 4);
  // the user's password sits in every matchflow pod and in KEDA.
  it("has the management tag, not monitoring or administrator", () => {
    const script = readFileSync(path.join(REPO_ROOT, "deploy/k8s/base/rabbitmq/post-start.sh"), "utf8");
    const tags = [...script.matchAll(/^\s*rabbitmqctl set_user_tags "\$MATCHFLOW_RABBITMQ_USER"(.*)$/gm)].map((m) => (m[1] ?? "").trim());
    expect(tags).toEqual(["management"]);
  });
});

describe("seccomp", () => {
  it.each(OVERLAYS)("%s: every pod runs with the runtime's default seccomp profile", (overlay) => {
    for (const w of workloads(overlay)) {
      const spec = podTemplate(w).spec as { securityContext?: { seccompProfile?: { type?: string } } };
      expect(spec.securityContext?.seccompProfile?.type, `${w.kind}/${w.metadata.name}`).toBe("RuntimeDefault");
    }
  });
});

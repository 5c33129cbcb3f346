/**
 * The scraper CronJob (daily schedule, no overlap, the benchmark's memory settings) and the
 * migration Job, as rendered for each overlay.
 */
import { describe, expect, it } from "vitest";
import { DEPLOYED_SCRAPER_CONFIRM_WINDOW, DEPLOYED_SCRAPER_MALLOC_ARENA_MAX, DEPLOYED_SCRAPER_NODE_ARGS } from "../../bench/lib/deployed.js";
import { EXIT } from "../../src/cli/exit-codes.js";
import { OVERLAYS } from "../../scripts/validate-deploy.js";
import { find, podTemplate, useRenderedOverlays } from "../helpers/k8s-render.js";

useRenderedOverlays();

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

  it("fails the Job at once on the exit codes a retry cannot fix (refused matches, usage), retries the rest", () => {
    for (const overlay of OVERLAYS) {
      const job = (find(overlay, "CronJob", "matchflow-scraper").spec as { jobTemplate: { spec: { backoffLimit: number; podFailurePolicy: { rules: { action: string; onExitCodes?: { operator: string; values: number[] } }[] } } } }).jobTemplate.spec;
      const failAt = job.podFailurePolicy.rules.filter((r) => r.action === "FailJob").flatMap((r) => (r.onExitCodes?.operator === "In" ? r.onExitCodes.values : []));
      expect(failAt.sort()).toEqual([EXIT.partial, EXIT.usage].sort());
      // Source, broker (also: some valid matches not taken) and database trouble are worth another try.
      // So are an internal error and stdout not written: another pod, another moment.
      for (const code of [EXIT.source, EXIT.broker, EXIT.database, EXIT.internal, EXIT.output]) expect(failAt).not.toContain(code);
      expect(job.backoffLimit).toBeGreaterThan(0);
    }
  });

  it("migrates with `matchflow migrate`; the worker pod has no init container to crash-loop while the database is down", () => {
    expect(podTemplate(find("prod", "Job", "matchflow-migrate")).spec.containers[0]?.args).toEqual(["migrate"]);
    // The worker migrates itself before it consumes, after waiting for the database (worker-startup.test.ts).
    expect(podTemplate(find("prod", "Deployment", "matchflow-worker")).spec.initContainers ?? []).toEqual([]);
  });
});

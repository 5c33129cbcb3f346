/**
 * The Prometheus alert rules and the runbook they point to. `promtool check rules` and
 * `promtool test rules` run in scripts/validate-deploy.sh (CI); this checks what promtool cannot:
 * the required alerts exist with their thresholds, their metrics are ones matchflow really
 * exports, their job names match the example scrape configuration, and every runbook link
 * lands on a section of docs/operations.md; and the runbook's `kubectl ... -l` selectors find
 * what the rendered overlays create.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { lockQueueName } from "../../src/ops/dead-letter-lock.js";
import { OVERLAYS } from "../../scripts/validate-deploy.js";
import type { K8sObject, OverlayName } from "../../scripts/validate-deploy.js";
import { objects, podTemplate, useRenderedOverlays, workloads } from "../helpers/k8s-render.js";

useRenderedOverlays();

const ROOT = path.resolve(import.meta.dirname, "../..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

interface Rule { alert: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
const rules: Rule[] = (parseYaml(read("deploy/prometheus/alerts.yml")) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);
const byName = (name: string): Rule => {
  const rule = rules.find((r) => r.alert === name);
  if (!rule) throw new Error(`no alert ${name}`);
  return rule;
};
const squash = (s: string) => s.replace(/\s+/g, " ").trim();

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
function anchors(markdown: string): Set<string> {
  return new Set(
    markdown
      .split("\n")
      .filter((l) => /^#{1,6}\s/.test(l))
      .map((l) => l.replace(/^#+\s+/, "").trim().toLowerCase().replace(/[^\w\s-]/g, "").replace(/\s/g, "-")),
  );
}

describe("alert rules", () => {
  it("alert on queue depth above 100 for 5 minutes and on no consumers for 5 minutes (the seed's alerts)", () => {
    // The work queue `matches` and, with one queue per league, `matches.<league>` (not the
    // dead-letter queue; retry queues have two more segments and do not match).
    const workQueues = 'queue=~"matches(\\\\.[a-z0-9_-]+)?", queue!="matches.dead_letter"';
    expect(squash(byName("MatchflowQueueBacklog").expr)).toBe(`sum by (queue) (rabbitmq_queue_messages{${workQueues}}) > 100`);
    expect(byName("MatchflowQueueBacklog").for).toBe("5m");
    expect(squash(byName("MatchflowNoConsumers").expr)).toBe(`sum by (queue) (rabbitmq_queue_consumers{${workQueues}}) == 0`);
    expect(byName("MatchflowNoConsumers").for).toBe("5m");
  });

  it("alert when the dead-letter queue is not empty and on the dead-letter ratio", () => {
    expect(byName("MatchflowDeadLetters").expr).toContain('rabbitmq_queue_messages{queue=~"matches(\\\\.[a-z0-9_-]+)?\\\\.dead_letter"}) > 0');
    const ratio = squash(byName("MatchflowFailureRatioHigh").expr);
    expect(ratio).toMatch(/matchflow_tasks_total\{outcome="dead_lettered"\}/);
    expect(ratio).toMatch(/\/ sum\(rate\(matchflow_tasks_total\[15m\]\)\) > 0\.05$/);
  });

  it("never take the dlq commands' lock queue for a work or dead-letter queue (it has no consumer)", () => {
    // PromQL anchors =~ at both ends; the lock exists only while a dlq command runs.
    const queueMatchers = rules.flatMap((r) => [...r.expr.matchAll(/queue=~"([^"]+)"/g)].map((m) => new RegExp(`^(?:${(m[1] ?? "").replace(/\\\\/g, "\\")})$`)));
    expect(queueMatchers.length).toBeGreaterThanOrEqual(3);
    expect(queueMatchers.some((re) => re.test("matches.dead_letter"))).toBe(true);
    for (const queue of ["matches", "matches.academy"]) {
      const lock = lockQueueName(`${queue}.dead_letter`);
      for (const re of queueMatchers) expect(re.test(lock), `${re} matches ${lock}`).toBe(false);
    }
  });

  it("alert on workers down and on the broker and database gauges", () => {
    expect(byName("MatchflowWorkerDown").expr).toBe('up{job="matchflow-worker"} == 0');
    expect(byName("MatchflowDatabaseDown").expr).toBe("matchflow_database_up == 0");
    expect(byName("MatchflowBrokerDown").expr).toBe("matchflow_broker_up == 0");
  });

  it("alert when RabbitMQ blocks publishers (a memory or disk alarm), after a minute", () => {
    const rule = byName("MatchflowBrokerResourceAlarm");
    expect(rule.expr).toContain("rabbitmq_alarms_memory_used_watermark");
    expect(rule.expr).toContain("rabbitmq_alarms_free_disk_space_watermark");
    expect(rule.for).toBe("1m");
  });

  it("alert when the scraper CronJob's last scheduled run did not succeed (kube-state-metrics), after its deadline", () => {
    const rule = byName("MatchflowScrapeFailed");
    expect(rule.expr).toContain('kube_cronjob_status_last_schedule_time{cronjob="matchflow-scraper"}');
    expect(rule.expr).toContain('kube_cronjob_status_last_successful_time{cronjob="matchflow-scraper"}');
    // Longer than the Job may run (activeDeadlineSeconds: 3600), so a run still retrying is not a failure yet.
    expect(rule.for).toBe("90m");
  });

  it("every alert has a severity, a summary and a runbook section that exists", () => {
    const sections = anchors(read("docs/operations.md"));
    expect(rules.length).toBeGreaterThanOrEqual(8);
    for (const r of rules) {
      expect(["warning", "critical"], r.alert).toContain(r.labels?.severity);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      const [file, anchor] = (r.annotations?.runbook ?? "").split("#");
      expect(file, r.alert).toBe("docs/operations.md");
      expect(sections.has(anchor ?? ""), `${r.alert}: #${anchor} is not a heading of docs/operations.md`).toBe(true);
    }
  });

  it("use only metrics the worker exports (src/worker/metrics.ts) or RabbitMQ's, and the scrape config's job names", () => {
    const workerMetrics = read("src/worker/metrics.ts");
    const used = new Set(rules.flatMap((r) => r.expr.match(/\bmatchflow_[a-z_]+/g) ?? []));
    expect(used.size).toBeGreaterThanOrEqual(3);
    // A histogram's series are its name with _bucket, _sum or _count.
    for (const metric of used) expect(workerMetrics, metric).toContain(`"${workerMetrics.includes(`"${metric}"`) ? metric : metric.replace(/_(bucket|sum|count)$/, "")}"`);
    const jobs = new Set((parseYaml(read("deploy/prometheus/prometheus.yml")) as { scrape_configs: { job_name: string }[] }).scrape_configs.map((s) => s.job_name));
    for (const r of rules) for (const m of r.expr.matchAll(/\bjob="([^"]+)"/g)) expect(jobs.has(m[1] ?? ""), `${r.alert}: job ${m[1]}`).toBe(true);
  });
});

describe("runbook", () => {
  const doc = read("docs/operations.md");
  it("covers every trouble of the seed's troubleshooting section, each with signals and a fix", () => {
    const sections = doc.split(/^## /m);
    for (const title of ["Messages not consumed", "Validation errors", "Database errors", "Broker connection refused", "Resource limits", "Dead letters", "Scaling", "Deploy"]) {
      const section = sections.find((s) => s.startsWith(title));
      expect(section, title).toBeDefined();
      if (title !== "Scaling" && title !== "Deploy") {
        expect(section, title).toMatch(/\*\*Shows as:\*\*/);
        expect(section, title).toMatch(/\*\*Fix:\*\*/);
      }
    }
    for (const cmd of ["mf queue status", "mf dlq list", "mf dlq requeue --all", "kubectl apply -k deploy/k8s/overlays/prod", "k rollout restart deploy/matchflow-worker"]) expect(doc).toContain(cmd);
    for (const field of ["taskId", "externalMatchId", "outcome", "code"]) expect(doc).toContain(`\`${field}\``);
  });
});

/** The labels of what `kubectl get <resource> -l ...` lists, for the rendered objects of an overlay. */
function labelsOf(overlay: OverlayName, resource: string): Record<string, string>[] {
  const meta = (o: K8sObject) => o.metadata.labels ?? {};
  const all = objects(overlay);
  switch (resource) {
    case "pod":
    case "pods":
      return workloads(overlay).map((w) => podTemplate(w).metadata?.labels ?? {});
    case "job":
    case "jobs":
      // A CronJob's Jobs (also `k create job --from=cronjob/...`) take its jobTemplate's labels.
      return [...all.filter((o) => o.kind === "Job").map(meta), ...all.filter((o) => o.kind === "CronJob").map((o) => (o.spec as { jobTemplate: { metadata?: { labels?: Record<string, string> } } }).jobTemplate.metadata?.labels ?? {})];
    case "cm":
    case "configmap":
      return all.filter((o) => o.kind === "ConfigMap").map(meta);
    case "secret":
    case "secrets":
      return all.filter((o) => o.kind === "Secret").map(meta);
    default:
      throw new Error(`runbook selects unknown resource ${resource}`);
  }
}

describe("runbook selectors", () => {
  const doc = read("docs/operations.md");
  const selectors = [...doc.matchAll(/\bk (?:get|describe) (\w+) -l ([\w./-]+)=([\w.-]+)/g)].map((m) => ({ text: m[0], resource: m[1] ?? "", key: m[2] ?? "", value: m[3] ?? "" }));

  it("every `k get/describe <resource> -l key=value` of the runbook matches something every overlay creates", () => {
    expect(selectors.map((s) => s.resource)).toEqual(expect.arrayContaining(["pods", "pod", "cm", "secret", "jobs"]));
    for (const overlay of OVERLAYS) {
      for (const s of selectors) expect(labelsOf(overlay, s.resource).some((l) => l[s.key] === s.value), `${overlay}: ${s.text} lists nothing`).toBe(true);
    }
  });
});

/**
 * Lessons, "routing": the original's 1,900 messages waited for days in a queue no consumer read.
 * The work-queue alerts watch `matches` (and `matches.<league>`) only; a message published to a
 * queue of another name (a wrong MATCHES_QUEUE, a Celery producer's default queue `celery`) is
 * stranded where they never look. `promtool test rules` on the real alert file proves the rule
 * that does (scripts/validate-deploy.sh runs the committed promtool tests; this one is the
 * lessons audit's own).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

const RULES = path.resolve(import.meta.dirname, "../../deploy/prometheus/alerts.yml");

function hasPromtool(): boolean {
  try {
    execFileSync("promtool", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Runs `promtool test rules` on `tests` (YAML list items), against the committed rule file. */
function promtoolTest(tests: string): { ok: boolean; output: string } {
  const dir = mkdtempSync(path.join(tmpdir(), "mf-lessons-alerts-"));
  try {
    const file = path.join(dir, "test.yml");
    writeFileSync(file, `rule_files:\n  - ${JSON.stringify(RULES)}\nevaluation_interval: 1m\ntests:\n${tests}`);
    try {
      return { ok: true, output: execFileSync("promtool", ["test", "rules", file], { encoding: "utf8", stdio: "pipe" }) };
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const series = (metric: string, queue: string, values: string) => `      - series: '${metric}{queue="${queue}", vhost="/", instance="rabbitmq-0", job="rabbitmq"}'\n        values: "${values}"\n`;

describe.skipIf(!hasPromtool())("lessons: routing -- a queue nobody consumes is alerted on, whatever its name", () => {
  it("messages stranded in `celery` (a Celery producer without queue=) fire MatchflowStrandedQueue after 15 minutes; delay, dead-letter, lock and consumed queues do not", () => {
    const input = [
      series("rabbitmq_queue_messages_ready", "celery", "1900x30"),
      series("rabbitmq_queue_consumers", "celery", "0x30"),
      // Consumed: a backlog, not stranded.
      series("rabbitmq_queue_messages_ready", "other.consumed", "50x30"),
      series("rabbitmq_queue_consumers", "other.consumed", "1x30"),
      // Never consumed on purpose, or watched by their own alerts.
      series("rabbitmq_queue_messages_ready", "matches", "10x30"),
      series("rabbitmq_queue_consumers", "matches", "0x30"),
      series("rabbitmq_queue_messages_ready", "matches.retry.60000ms", "10x30"),
      series("rabbitmq_queue_messages_ready", "matches.academy.eta.4000ms", "10x30"),
      series("rabbitmq_queue_messages_ready", "matches.dead_letter", "10x30"),
      series("rabbitmq_queue_messages_ready", "matches.academy.dead_letter", "10x30"),
      series("rabbitmq_queue_messages_ready", "matches.dead_letter.lock", "1x30"),
    ].join("");
    const result = promtoolTest(`  - interval: 1m
    input_series:
${input}    alert_rule_test:
      - eval_time: 10m
        alertname: MatchflowStrandedQueue
        exp_alerts: []
      - eval_time: 20m
        alertname: MatchflowStrandedQueue
        exp_alerts:
          - exp_labels: { severity: warning, queue: celery, vhost: "/" }
            exp_annotations:
              summary: "1900 messages wait in queue celery (vhost /) that nobody consumes (15 minutes)"
              description: A producer publishes to a queue no matchflow worker reads (wrong MATCHES_QUEUE, or a Celery producer's default queue). \`matchflow queue status\` names it.
              runbook: docs/operations.md#messages-not-consumed
`);
    expect(result.output).toContain("SUCCESS");
    expect(result.ok, result.output).toBe(true);
  });
});

/**
 * A misspelt setting is said when a command starts: it was ignored in silence, and the default
 * applied (`WORKER_CONCURENCY=8` ran 4 transactions at once).
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { misspeltSettings } from "../../src/config-typos.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

describe("misspelt settings", () => {
  it.each([
    ["WORKER_CONCURENCY", "WORKER_CONCURRENCY"], // a letter left out
    ["MATCHES_QEUEU", undefined], // two edits: too far to guess
    ["MATCHES_QUEUES", "MATCHES_QUEUE"], // one added
    ["HTTP_TIEMOUT", "HTTP_TIMEOUT"], // two neighbours swapped
    ["DATABASE_URI", "DATABASE_URL"], // one changed
    ["rabbitmq_url", "RABBITMQ_URL"], // case: Linux environments are case-sensitive
    ["Log_Level", "LOG_LEVEL"],
    ["MATCHFLOW_LOG_LEVEL", "LOG_LEVEL"], // settings have no prefix
    ["MATCHFLOW_RABBITMQ_URL", "RABBITMQ_URL"],
  ])("%s is said as a near miss of %s", (name, setting) => {
    const warnings = misspeltSettings({ [name]: "s3cret" });
    expect(warnings).toEqual(setting === undefined ? [] : [`${name} is not a setting and is ignored: did you mean ${setting}?`]);
    expect(warnings.join("")).not.toContain("s3cret");
  });

  it("leaves the settings themselves, blank values and other programs' variables alone", () => {
    const env = {
      RABBITMQ_URL: "amqp://h//",
      WORKER_CONCURRENCY: "8",
      CELERY_WORKER_CONCURRENCY: "2",
      WORKER_CONCURENCY: " ",
      // Kubernetes service links of the deployment's own services, the RabbitMQ pod's user, Celery's own settings.
      RABBITMQ_PORT: "tcp://10.0.0.1:5672",
      RABBITMQ_SERVICE_HOST: "10.0.0.1",
      MATCHFLOW_WORKER_PORT: "tcp://10.0.0.2:9808",
      MATCHFLOW_RABBITMQ_USER: "matchflow",
      CELERY_BROKER_URL: "amqp://h//",
      PATH: "/usr/bin",
      HOME: "/root",
      NODE_OPTIONS: "--max-old-space-size=96",
    };
    expect(misspeltSettings(env)).toEqual([]);
  });

  it("is said on stderr when a command starts, which goes on with the default (exit 0)", async () => {
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
      execFile(
        process.execPath,
        ["--import", "tsx", "src/cli/main.ts", "config"],
        { cwd: root, env: { PATH: process.env.PATH, HOME: process.env.HOME, WORKER_CONCURENCY: "8" }, timeout: 60_000 },
        (err, out, errOut) => {
          if (err && typeof err.code !== "number") return reject(new Error(`could not run the CLI: ${err.message}`, { cause: err }));
          resolve({ code: typeof err?.code === "number" ? err.code : 0, stdout: out, stderr: errOut });
        },
      );
    });
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as { worker: { concurrency: number } }).worker.concurrency).toBe(4);
    const lines = stderr.trim().split("\n").map((l) => JSON.parse(l) as { level: string; msg: string });
    expect(lines).toEqual([expect.objectContaining({ level: "warn", msg: "WORKER_CONCURENCY is not a setting and is ignored: did you mean WORKER_CONCURRENCY?" })]);
  });
});

/** Settings from the environment: the seed's defaults, aliases, durations, and one error for all problems. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { ENV_VARIABLES, loadConfig, parseDurationMs } from "../../src/config.js";
import { validateForProducer } from "../../src/contract/index.js";
import { ConfigError } from "../../src/errors.js";

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected loadConfig to throw a ConfigError");
}

describe("defaults (an empty environment)", () => {
  const config = loadConfig({});

  it("uses the seed's topology names", () => {
    expect(config.topology).toMatchObject({
      exchange: "matches",
      queue: "matches",
      routingKey: "matches.process",
      taskName: "celery_tasks.match_tasks.process_match_data",
      queueType: "classic",
    });
  });

  it("uses the seed's worker, retry and shutdown settings", () => {
    expect(config.worker.concurrency).toBe(4);
    expect(config.metricsPort).toBe(9808);
    expect(config.retry).toEqual({ max: 3, baseDelayMs: 60_000, maxDelayMs: 600_000 });
    expect(config.worker.shutdownGraceMs).toBe(25_000);
    expect(config.logLevel).toBe("info");
    expect(config.worker.logIntervalMs).toBe(10_000);
  });

  it("batches up to 400 tasks a transaction with 1,600 deliveries unacked at most", () => {
    expect(config.worker.batchSize).toBe(400);
    expect(config.worker.prefetch).toBe(1600);
  });

  it("bounds a batch's message bytes from the heap limit unless WORKER_BATCH_BYTES says otherwise", () => {
    expect(config.worker.batchBytes).toBe("auto");
    expect(loadConfig({ WORKER_BATCH_BYTES: " AUTO " }).worker.batchBytes).toBe("auto");
    expect(loadConfig({ WORKER_BATCH_BYTES: "2000000" }).worker.batchBytes).toBe(2_000_000);
  });

  it("bounds a task body at 64 KiB, which a match at every field's cap still fits (non-ASCII text escaped)", () => {
    expect(config.maxMessageBytes).toBe(65_536);
    // Every text field at its maximum length, in a script JSON writes as \uXXXX (6 bytes a character).
    const text = (n: number) => "\u00e9".repeat(n);
    const largest = validateForProducer({
      external_match_id: text(100),
      home_team: text(200),
      away_team: `${text(199)}x`,
      match_date: "2026-09-05",
      season: "2026-27",
      age_group: text(50),
      match_type: text(100),
      league: "Homegrown",
      division: text(200),
      home_score: 999,
      away_score: 999,
      home_penalty_score: 999,
      away_penalty_score: 999,
      match_status: "completed",
      scheduled_kickoff: "2026-09-05T13:00:00.000Z",
      match_time: "13:00",
      location: text(500),
      notes: text(2000),
      source: text(100),
      scraped_at: "2026-09-05T15:00:00.000Z",
    });
    expect(largest.ok).toBe(true);
    if (!largest.ok) return;
    const body = encodeTaskV2({ taskName: config.topology.taskName, taskId: "3f0c7a52-5a43-4f7e-9b51-1f2d3c4b5a69", args: [largest.match] }).content;
    expect(body.length).toBeGreaterThan(20_000);
    expect(body.length).toBeLessThan(config.maxMessageBytes / 2);
  });

  it("leaves the service URLs unset (embedded broker and database)", () => {
    expect(config.rabbitmqUrl).toBeUndefined();
    expect(config.databaseUrl).toBeUndefined();
  });

  it("does not read process.env when an environment is passed", () => {
    expect(loadConfig({}).metricsPort).toBe(9808);
  });
});

describe("explicit values", () => {
  it("reads URLs, names and numbers", () => {
    const config = loadConfig({
      RABBITMQ_URL: "amqp://guest:guest@127.0.0.1:5672/",
      DATABASE_URL: "postgres://postgres@127.0.0.1:5432/matchflow",
      MATCHES_QUEUE: " fixtures ",
      METRICS_PORT: "0",
      LOG_LEVEL: "DEBUG",
      RETRY_MAX: "0",
      QUEUE_TYPE: "quorum",
    });
    expect(config.rabbitmqUrl).toBe("amqp://guest:guest@127.0.0.1:5672/");
    expect(config.databaseUrl).toBe("postgres://postgres@127.0.0.1:5432/matchflow");
    expect(config.topology.queue).toBe("fixtures");
    expect(config.metricsPort).toBe(0);
    expect(config.logLevel).toBe("debug");
    expect(config.retry.max).toBe(0);
    expect(config.topology.queueType).toBe("quorum");
  });

  it("cuts argsrepr at 160 characters unless PUBLISH_ARGSREPR_MAX says otherwise, within 16..65536", () => {
    expect(loadConfig({}).publish.argsreprMax).toBe(160);
    expect(loadConfig({ PUBLISH_ARGSREPR_MAX: "1024" }).publish.argsreprMax).toBe(1024);
    expect(() => loadConfig({ PUBLISH_ARGSREPR_MAX: "8" })).toThrow(/PUBLISH_ARGSREPR_MAX/);
    expect(() => loadConfig({ PUBLISH_ARGSREPR_MAX: "lots" })).toThrow(/PUBLISH_ARGSREPR_MAX/);
  });

  it("accepts pglite:// as DATABASE_URL", () => {
    expect(loadConfig({ DATABASE_URL: "pglite://./data" }).databaseUrl).toBe("pglite://./data");
  });

  it("accepts a scheme in any case, as node-postgres does, and a socket URL without a host", () => {
    expect(loadConfig({ DATABASE_URL: "POSTGRES://u@db/x" }).databaseUrl).toBe("POSTGRES://u@db/x");
    expect(loadConfig({ DATABASE_URL: "postgresql:///matchflow?host=/var/run/postgresql" }).databaseUrl).toBe("postgresql:///matchflow?host=/var/run/postgresql");
    expect(loadConfig({ DATABASE_URL: "PGlite://memory" }).databaseUrl).toBe("PGlite://memory");
  });

  it("takes the shortest timings that still bound a stuck lock and space out retries", () => {
    const config = loadConfig({ DB_LOCK_TIMEOUT: "1ms", DB_STATEMENT_TIMEOUT: "1ms", RETRY_BASE_DELAY: "100ms", RETRY_MAX_DELAY: "100ms" });
    expect(config.db).toEqual({ lockTimeoutMs: 1, statementTimeoutMs: 1 });
    expect(config.retry).toMatchObject({ baseDelayMs: 100, maxDelayMs: 100 });
  });

  it("reads a choice trimmed and in any case, as LOG_LEVEL and the numbers (a ConfigMap's \"quorum \" was refused)", () => {
    const config = loadConfig({ QUEUE_TYPE: "quorum ", CELERY_PROTOCOL: " 1", LEAGUE: "academy", SCRAPE_SOURCE: "Modular11\n", CELERY_EVENTS: "ALL", NAME_RESOLUTION: " Strict" });
    expect(config.topology.queueType).toBe("quorum");
    expect(config.publish.protocol).toBe(1);
    expect(config.scrape).toMatchObject({ league: "Academy", source: "modular11" });
    expect(config.worker).toMatchObject({ celeryEvents: "all", nameResolution: "strict" });
  });

  it("treats blank values as unset", () => {
    const config = loadConfig({ METRICS_PORT: "", MATCHES_QUEUE: "  ", RABBITMQ_URL: "", WORKER_CONCURRENCY: "" });
    expect(config.metricsPort).toBe(9808);
    expect(config.topology.queue).toBe("matches");
    expect(config.rabbitmqUrl).toBeUndefined();
    expect(config.worker.concurrency).toBe(4);
  });
});

describe("worker concurrency", () => {
  it("accepts CELERY_WORKER_CONCURRENCY as an alias", () => {
    expect(loadConfig({ CELERY_WORKER_CONCURRENCY: "2" }).worker.concurrency).toBe(2);
  });

  it("prefers WORKER_CONCURRENCY when both are set", () => {
    expect(loadConfig({ WORKER_CONCURRENCY: "8", CELERY_WORKER_CONCURRENCY: "2" }).worker.concurrency).toBe(8);
  });

  it("names the variable that was actually set when invalid", () => {
    expect(configError({ CELERY_WORKER_CONCURRENCY: "many" }).message).toContain('CELERY_WORKER_CONCURRENCY "many" must be a whole number from 1 to 256');
    expect(configError({ WORKER_CONCURRENCY: "0", CELERY_WORKER_CONCURRENCY: "2" }).message).toContain('WORKER_CONCURRENCY "0" must be a whole number');
  });

  it("keeps the default prefetch within AMQP's 16-bit limit", () => {
    const config = loadConfig({ WORKER_CONCURRENCY: "256", WORKER_BATCH_SIZE: "5000" });
    expect(config.worker.prefetch).toBe(65535);
  });
});

describe("durations", () => {
  it.each([
    ["500ms", 500],
    ["60s", 60_000],
    ["10m", 600_000],
    ["1h", 3_600_000],
    ["45", 45_000],
    ["0", 0],
    ["1.5s", 1500],
    [" 2M ", 120_000],
  ])("parseDurationMs(%j) = %i", (text, ms) => {
    expect(parseDurationMs(text)).toBe(ms);
  });

  it.each([["", "-5s", "ten seconds", "5 days", "5d", "1e3"]].flat().map((t) => [t]))("parseDurationMs(%j) is undefined", (text) => {
    expect(parseDurationMs(text)).toBeUndefined();
  });

  it("reads duration settings in any unit", () => {
    const config = loadConfig({ RETRY_BASE_DELAY: "500ms", RETRY_MAX_DELAY: "10m", SHUTDOWN_GRACE: "30" });
    expect(config.retry.baseDelayMs).toBe(500);
    expect(config.retry.maxDelayMs).toBe(600_000);
    expect(config.worker.shutdownGraceMs).toBe(30_000);
    expect(loadConfig({ WORKER_LOG_INTERVAL: "0" }).worker.logIntervalMs).toBe(0);
    expect(loadConfig({ WORKER_LOG_INTERVAL: "1m" }).worker.logIntervalMs).toBe(60_000);
  });
});

describe("invalid values", () => {
  it.each([
    ["RABBITMQ_URL", "not a url", /RABBITMQ_URL is not a valid URL/],
    ["RABBITMQ_URL", "http://127.0.0.1:5672", /RABBITMQ_URL must start with amqp:\/\/ or amqps:\/\//],
    // amqplib refused these only when connecting, and the worker waited on them as on an outage.
    ["RABBITMQ_URL", "amqp://u:s3cret@h:5672/v?heartbeat=abc", /^(?!.*s3cret).*RABBITMQ_URL has \?heartbeat= that is not a whole number from 0 to 65535/s],
    ["RABBITMQ_URL", "amqp://h/v?heartbeat=-1", /RABBITMQ_URL has \?heartbeat= that is not a whole number/],
    ["RABBITMQ_URL", "amqp://h/v?frameMax=100", /RABBITMQ_URL has \?frameMax= that is not a whole number from 4096 to 4294967295/],
    ["RABBITMQ_URL", "amqp://h/v?channelMax=1e3", /RABBITMQ_URL has \?channelMax= that is not a whole number from 0 to 65535/],
    ["DATABASE_URL", "mysql://db/x", /DATABASE_URL must start with postgres:\/\/ or postgresql:\/\/ or pglite:\/\//],
    ["DATABASE_URL", "pglite://", /DATABASE_URL must be postgres:\/\/\.\.\., postgresql:\/\/\.\.\. or pglite:\/\/<directory> \(pglite:\/\/\.\/\.matchflow\/db, pglite:\/\/memory\)/],
    // URLs to the parser, but not forms the database opens: the worker waited on them for ever.
    ["DATABASE_URL", "pglite:memory", /DATABASE_URL must be postgres:\/\/\.\.\., postgresql:\/\/\.\.\. or pglite:\/\/<directory>/],
    ["DATABASE_URL", "pglite:./db", /DATABASE_URL must be postgres:\/\/\.\.\./],
    ["DATABASE_URL", "postgres:db.internal/matchflow", /DATABASE_URL must be postgres:\/\/\.\.\./],
    // PostgreSQL reads 0 as no limit; a retry queue's TTL of 0 retried every attempt at once.
    ["DB_LOCK_TIMEOUT", "0", /DB_LOCK_TIMEOUT must be more than 0 \(e\.g\. 10s\): without it a stuck lock holds a batch for ever/],
    ["DB_STATEMENT_TIMEOUT", "0s", /DB_STATEMENT_TIMEOUT must be more than 0/],
    ["RETRY_BASE_DELAY", "0", /RETRY_BASE_DELAY must be at least 100ms/],
    ["RETRY_BASE_DELAY", "0.4ms", /RETRY_BASE_DELAY must be at least 100ms/],
    ["RETRY_MAX_DELAY", "50ms", /RETRY_MAX_DELAY must be at least 100ms/],
    ["LOG_LEVEL", "verbose", /LOG_LEVEL "verbose" must be fatal, error, warn, info, debug, trace or silent/],
    ["METRICS_PORT", "70000", /METRICS_PORT "70000" must be a whole number from 0 to 65535/],
    ["METRICS_PORT", "0x10", /METRICS_PORT "0x10" must be a whole number/],
    ["RETRY_MAX", "-1", /RETRY_MAX "-1" must be a whole number from 0 to 100/],
    ["RETRY_MAX", "2.5", /RETRY_MAX "2.5" must be a whole number/],
    ["RETRY_BASE_DELAY", "soon", /RETRY_BASE_DELAY "soon" is not a duration \(use e\.g\. 500ms, 60s, 10m or a number of seconds\)/],
    ["SHUTDOWN_GRACE", "5d", /SHUTDOWN_GRACE "5d" is not a duration/],
    ["WORKER_LOG_INTERVAL", "200ms", /WORKER_LOG_INTERVAL must be 0 \(a line per batch\) or at least 1s/],
    ["HTTP_TIMEOUT", "0", /HTTP_TIMEOUT must be more than 0/],
    ["HTTP_TIMEOUT", "0.0001", /HTTP_TIMEOUT must be more than 0/],
    ["WORKER_CONCURRENCY", "4.5", /WORKER_CONCURRENCY "4.5" must be a whole number from 1 to 256/],
    ["WORKER_PREFETCH", "70000", /WORKER_PREFETCH "70000" must be a whole number from 1 to 65535/],
    ["WORKER_BATCH_BYTES", "1000", /WORKER_BATCH_BYTES "1000" must be auto or a whole number of bytes from 1024/],
    ["WORKER_BATCH_BYTES", "4MB", /WORKER_BATCH_BYTES "4MB" must be auto or a whole number of bytes/],
    ["MATCHES_QUEUE", "q".repeat(256), /MATCHES_QUEUE must be at most 255 characters/],
    // The value is said (it holds no secret): "must be classic or quorum" alone hid a stray character.
    ["QUEUE_TYPE", "stream", /QUEUE_TYPE "stream" must be classic or quorum/],
    ["QUEUE_TYPE", "quorom", /QUEUE_TYPE "quorom" must be classic or quorum/],
    ["NAME_RESOLUTION", "lenient", /NAME_RESOLUTION "lenient" must be create or strict/],
    ["CELERY_CANVAS", "off", /CELERY_CANVAS "off" must be run or report/],
    ["CELERY_EVENTS", "on", /CELERY_EVENTS "on" must be off, worker or all/],
    ["CELERY_CONTROL", "yes", /CELERY_CONTROL "yes" must be off, inspect or control/],
    ["CELERY_PROTOCOL", "3", /CELERY_PROTOCOL "3" must be 1 or 2/],
    ["SCRAPE_SOURCE", "modular", /SCRAPE_SOURCE "modular" must be assist or modular11/],
    ["LEAGUE", "Homegrow", /LEAGUE "Homegrow" must be Homegrown, Academy or Flex/],
    ["RESULT_BACKEND", "redis://localhost", /RESULT_BACKEND "redis:\/\/localhost" is not supported/],
    // Node's timers fire at once past 2^31 - 1 ms: a grace of 1000h force-exited at the first SIGTERM.
    ["SHUTDOWN_GRACE", "1000h", /SHUTDOWN_GRACE "1000h" is longer than the longest wait a timer takes/],
    ["HTTP_TIMEOUT", "2147484s", /HTTP_TIMEOUT "2147484s" is longer than the longest wait/],
  ])("%s=%j is a ConfigError naming the variable", (name, value, words) => {
    const err = configError({ [name]: value });
    expect(err.code).toBe("config_invalid");
    expect(err.kind).toBe("permanent");
    expect(err.message).toMatch(words);
  });

  it("rejects a retry base delay above the maximum", () => {
    expect(configError({ RETRY_BASE_DELAY: "20m", RETRY_MAX_DELAY: "10m" }).message).toContain("RETRY_BASE_DELAY must not exceed RETRY_MAX_DELAY");
    // With another problem: both said at once (it came only after the other was mended).
    const both = configError({ RETRY_BASE_DELAY: "20m", RETRY_MAX_DELAY: "10m", LOG_LEVEL: "loud" }).message;
    expect(both).toContain("RETRY_BASE_DELAY must not exceed RETRY_MAX_DELAY");
    expect(both).toContain('LOG_LEVEL "loud" must be');
  });

  it("lists every problem in one error, one line per variable", () => {
    const err = configError({
      RABBITMQ_URL: "nope",
      METRICS_PORT: "abc",
      LOG_LEVEL: "loud",
      RETRY_BASE_DELAY: "later",
      WORKER_CONCURRENCY: "0",
      WORKER_PREFETCH: "x",
      QUEUE_TYPE: "fast",
    });
    const lines = err.message.split("\n");
    expect(lines[0]).toBe("invalid configuration:");
    const named = ["RABBITMQ_URL", "METRICS_PORT", "LOG_LEVEL", "RETRY_BASE_DELAY", "WORKER_CONCURRENCY", "WORKER_PREFETCH", "QUEUE_TYPE"];
    expect(lines).toHaveLength(named.length + 1);
    for (const name of named) expect(lines.filter((l) => l.startsWith(`  - ${name} `)), name).toHaveLength(1);
    expect(err.details).toHaveLength(named.length);
  });

  it("accepts the longest duration a timer takes", () => {
    expect(loadConfig({ SHUTDOWN_GRACE: "2147483647ms" }).worker.shutdownGraceMs).toBe(2_147_483_647);
  });

  it.each([
    ["RABBITMQ_URL", "amqp://app:/Kx9secretTail@127.0.0.1:5672/"],
    ["RABBITMQ_URL", "amqp://app:4821/Kx9secretTail@127.0.0.1:5672/"],
    ["DATABASE_URL", "postgres://app:/Kx9secretTail@db:5432/matchflow"],
    ["RABBITMQ_MANAGEMENT_URL", "http://app:12/Kx9secretTail@rabbit:15672"],
  ])("%s with a password holding an unencoded / is refused without echoing it (it parsed as host and path)", (name, value) => {
    const err = configError({ [name]: value });
    expect(err.message).toContain(`${name} has an "@" after its host: a user name or password containing "/", "?" or "#" must be percent-encoded`);
    expect(err.message).not.toContain("Kx9secret");
    // Encoded, the same password is accepted.
    expect(() => loadConfig({ [name]: value.replace(":/Kx9", ":%2FKx9").replace(":4821/", ":4821%2F").replace(":12/", ":12%2F") })).not.toThrow();
  });

  it("never echoes a password from an invalid setting", () => {
    const err = configError({ CELERY_RESULT_BACKEND: "redis://:hunter2@cache:6379/0", RABBITMQ_URL: "http://guest:hunter2@localhost" });
    expect(err.message).not.toContain("hunter2");
    expect(err.message).toContain("CELERY_RESULT_BACKEND");
  });
});

describe("README's configuration table", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const section = readme.split(/^## Configuration$/m)[1]?.split(/^## /m)[0] ?? "";
  const rows = section.split("\n").filter((l) => l.startsWith("| `")).map((l) => l.split(/(?<!\\)\|/).map((c) => c.trim()));
  const namesOf = (cell: string) => [...cell.matchAll(/`([A-Z0-9_]+)`/g)].map((m) => m[1] ?? "");

  it("documents exactly the variables src/config.ts reads", () => {
    const documented = rows.flatMap((r) => namesOf(r[1] ?? ""));
    expect([...documented].sort()).toEqual([...ENV_VARIABLES].sort());
  });

  it("states the defaults config.ts applies: each documented default, set explicitly, changes nothing", () => {
    const defaults = JSON.stringify(loadConfig({}));
    let checked = 0;
    for (const row of rows) {
      const [, nameCell = "", defaultCell = ""] = row;
      // Only literal defaults (`400`, `3` / `60s` / `10m`); "unset", "auto: ..." and prose are not values.
      if (!/^`[^`]*`( \/ `[^`]*`)*$/.test(defaultCell)) continue;
      const values = [...defaultCell.matchAll(/`([^`]*)`/g)].map((m) => m[1] ?? "");
      const names = namesOf(nameCell).filter((n) => !nameCell.includes(`alias \`${n}\``));
      expect(names, nameCell).toHaveLength(values.length);
      const env = Object.fromEntries(names.map((n, i) => [n, values[i] ?? ""]));
      expect(JSON.stringify(loadConfig(env)), nameCell).toBe(defaults);
      checked += names.length;
    }
    expect(checked).toBeGreaterThanOrEqual(20);
  });

  it("states WORKER_PREFETCH's computed default as loadConfig computes it (2 x batch size with one slot, 65535 at most)", () => {
    const cell = rows.find((r) => r[1] === "`WORKER_PREFETCH`")?.[2] ?? "";
    const figures = /^concurrency x batch size \((\d+)\), at least 2 x batch size \((\d+) with concurrency 1\), at most (\d+)$/.exec(cell);
    expect(figures, cell).not.toBeNull();
    expect(loadConfig({}).worker.prefetch).toBe(Number(figures?.[1]));
    expect(loadConfig({ WORKER_CONCURRENCY: "1" }).worker.prefetch).toBe(Number(figures?.[2]));
    expect(loadConfig({ WORKER_CONCURRENCY: "256", WORKER_BATCH_SIZE: "5000" }).worker.prefetch).toBe(Number(figures?.[3]));
  });
});

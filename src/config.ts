/**
 * The one place where settings come from: the environment, validated once at start-up.
 * Everything else receives a typed `Config`; nothing else reads `process.env`.
 */
import { z } from "zod";
import { ConfigError } from "./errors.js";
import { redactUrl } from "./redact-url.js";

const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/i;

/** The longest wait Node's timers take (2^31 - 1 ms, ~24.8 days): a longer one fires at once. */
export const MAX_DURATION_MS = 2_147_483_647;

/** The shortest retry delay: the retry queues' TTL (topology-names.ts). */
const MIN_RETRY_DELAY_MS = 100;

/** "60s", "500ms", "10m", "1h" or a bare number of seconds -> milliseconds. */
export function parseDurationMs(text: string): number | undefined {
  const m = DURATION_RE.exec(text.trim());
  if (!m) return undefined;
  const value = Number(m[1]);
  const unit = (m[2] ?? "s").toLowerCase();
  const factor = unit === "ms" ? 1 : unit === "s" ? 1000 : unit === "m" ? 60_000 : 3_600_000;
  return Math.round(value * factor);
}

const duration = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDurationMs(text);
      if (ms === undefined) {
        ctx.addIssue({ code: "custom", message: `"${text}" is not a duration (use e.g. 500ms, 60s, 10m or a number of seconds)` });
        return z.NEVER;
      }
      if (ms > MAX_DURATION_MS) {
        ctx.addIssue({ code: "custom", message: `"${text}" is longer than the longest wait a timer takes (${MAX_DURATION_MS} ms, about 24 days)` });
        return z.NEVER;
      }
      return ms;
    });

/** Digits only: `Number()` alone would accept "0x10", "1e3" and "4.0". */
function wholeNumber(text: string): number | undefined {
  const trimmed = text.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) : undefined;
}

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((text, ctx) => {
      const n = wholeNumber(text);
      if (n === undefined || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `"${text}" must be a whole number from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    });

const optionalText = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()));

const url = (protocols: string[]) =>
  optionalText.superRefine((v, ctx) => {
    if (v === undefined) return;
    let parsed: URL;
    try {
      parsed = new URL(v);
    } catch {
      ctx.addIssue({ code: "custom", message: `is not a valid URL` });
      return;
    }
    if (!protocols.includes(parsed.protocol)) {
      ctx.addIssue({ code: "custom", message: `must start with ${protocols.map((p) => `${p}//`).join(" or ")}` });
    }
    // "amqp://app:/secret@host/" parses as host "app" and path "/secret@host/": the password
    // would be printed as part of the address. The value itself is never echoed.
    if (parsed.protocol !== "file:" && `${parsed.pathname}${parsed.search}${parsed.hash}`.includes("@")) {
      ctx.addIssue({ code: "custom", message: `has an "@" after its host: a user name or password containing "/", "?" or "#" must be percent-encoded (/ as %2F, ? as %3F, # as %23)` });
    }
    if (parsed.protocol === "amqp:" || parsed.protocol === "amqps:") {
      for (const message of amqpQueryProblems(parsed.searchParams)) ctx.addIssue({ code: "custom", message });
    }
  });

/**
 * The connection tuning amqplib reads from an AMQP URL's query, in AMQP's ranges. amqplib
 * refused a bad one only when connecting ("Field 'heartbeat' is the wrong type"), which the
 * worker took for a broker outage and waited on for ever.
 */
const AMQP_QUERY_RANGES: Record<string, readonly [number, number]> = { heartbeat: [0, 65_535], channelMax: [0, 65_535], frameMax: [4_096, 4_294_967_295] };

function amqpQueryProblems(query: URLSearchParams): string[] {
  const problems: string[] = [];
  for (const [key, [min, max]] of Object.entries(AMQP_QUERY_RANGES)) {
    const value = query.get(key);
    if (value === null) continue;
    const n = /^\d+$/.test(value) ? Number(value) : NaN;
    // frameMax 0 is AMQP's "no limit"; the value itself is not echoed (the URL may hold a password).
    if (!(n >= min && n <= max) && !(key === "frameMax" && n === 0)) problems.push(`has ?${key}= that is not a whole number from ${min} to ${max}`);
  }
  return problems;
}

/** The routing key of a work queue whose MATCHES_ROUTING_KEY is unset: `matches` -> `matches.process`. */
export function defaultRoutingKey(queue: string): string {
  return `${queue}.process`;
}

const name = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((s) => s.trim())
    .pipe(z.string().min(1, "must not be empty").max(255, "must be at most 255 characters"));

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** One of `values`, trimmed, in any case (as LOG_LEVEL): z.enum refused "quorum " without showing the value. */
const choice = <const T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) =>
  z.string().default(fallback).transform((text, ctx): T[number] => {
    const found = values.find((v) => v.toLowerCase() === text.trim().toLowerCase());
    if (found === undefined) ctx.addIssue({ code: "custom", message: `"${text}" must be ${values.slice(0, -1).join(", ")} or ${values.at(-1)}` });
    return found ?? z.NEVER;
  });

/** The environment variables matchflow reads, with their defaults. Order = README order. */
const envSchema = z.object({
  RABBITMQ_URL: url(["amqp:", "amqps:"]),
  RABBITMQ_MANAGEMENT_URL: url(["http:", "https:"]),
  // The forms openDatabase opens: "pglite:memory" or "postgres:host/db" parse as URLs too, and
  // were taken for an unreachable database and waited on for ever.
  DATABASE_URL: url(["postgres:", "postgresql:", "pglite:"]).refine((v) => v === undefined || !/^(postgres|postgresql|pglite):/i.test(v) || /^(postgres(ql)?:\/\/|pglite:\/\/.)/i.test(v), {
    message: "must be postgres://..., postgresql://... or pglite://<directory> (pglite://./.matchflow/db, pglite://memory)",
  }),
  LOG_LEVEL: choice(LOG_LEVELS, "info"),
  WORKER_CONCURRENCY: optionalText,
  CELERY_WORKER_CONCURRENCY: optionalText,
  WORKER_PREFETCH: optionalText,
  WORKER_BATCH_SIZE: int(400, 1, 5000),
  WORKER_BATCH_BYTES: z
    .string()
    .default("auto")
    .transform((text, ctx) => {
      if (text.trim().toLowerCase() === "auto") return "auto" as const;
      const n = wholeNumber(text);
      if (n === undefined || n < 1024 || n > 2 ** 31) {
        ctx.addIssue({ code: "custom", message: `"${text}" must be auto or a whole number of bytes from 1024 to ${2 ** 31}` });
        return z.NEVER;
      }
      return n;
    }),
  WORKER_LOG_INTERVAL: duration("10s").refine((ms) => ms === 0 || ms >= 1000, "must be 0 (a line per batch) or at least 1s"),
  METRICS_PORT: int(9808, 0, 65535),
  MATCHES_EXCHANGE: name("matches"),
  MATCHES_QUEUE: name("matches"),
  // Unset: derived from the queue (`<MATCHES_QUEUE>.process`, `matches.process` by default). A
  // queue renamed without it was bound with the shared key, and got a copy of every match.
  MATCHES_ROUTING_KEY: optionalText.refine((v) => v === undefined || v.length <= 255, "must be at most 255 characters"),
  MATCHES_TASK_NAME: name("celery_tasks.match_tasks.process_match_data"),
  FANOUT_EXCHANGE: optionalText,
  QUEUE_TYPE: choice(["classic", "quorum"], "classic"),
  CELERY_PROTOCOL: choice(["1", "2"], "2"),
  PUBLISH_CONFIRM_WINDOW: int(1000, 1, 100_000),
  PUBLISH_ARGSREPR_MAX: int(160, 16, 65_536),
  PUBLISH_BLOCKED_TIMEOUT: duration("60s").refine((ms) => ms > 0, "must be more than 0 (e.g. 60s)"),
  MAX_MESSAGE_BYTES: int(65_536, 1024, 134_217_728),
  // PostgreSQL reads 0 as "no limit": a stuck lock or a silent partition would hold a batch for ever.
  DB_LOCK_TIMEOUT: duration("10s").refine((ms) => ms > 0, "must be more than 0 (e.g. 10s): without it a stuck lock holds a batch for ever"),
  DB_STATEMENT_TIMEOUT: duration("60s").refine((ms) => ms > 0, "must be more than 0 (e.g. 60s): without it a stuck statement holds a batch for ever"),
  RETRY_MAX: int(3, 0, 100),
  // Sooner, every retry meets the same lock or outage at once, and the task is dead-lettered.
  RETRY_BASE_DELAY: duration("60s").refine((ms) => ms >= MIN_RETRY_DELAY_MS, `must be at least ${MIN_RETRY_DELAY_MS}ms`),
  RETRY_MAX_DELAY: duration("10m").refine((ms) => ms >= MIN_RETRY_DELAY_MS, `must be at least ${MIN_RETRY_DELAY_MS}ms`),
  SHUTDOWN_GRACE: duration("25s"),
  RESULT_BACKEND: optionalText,
  CELERY_RESULT_BACKEND: optionalText,
  CELERY_DEFAULT_QUEUE: name("celery"),
  CELERY_CANVAS: choice(["run", "report"], "run"),
  CELERY_EVENTS: choice(["off", "worker", "all"], "off"),
  CELERY_CONTROL: choice(["off", "inspect", "control"], "off"),
  NAME_RESOLUTION: choice(["create", "strict"], "create"),
  NAME_CACHE_TTL: duration("5m"),
  SCRAPE_SOURCE: choice(["assist", "modular11"], "assist"),
  ASSIST_BASE_URL: url(["http:", "https:", "file:"]).transform((v) => v ?? "https://mls-assist.theintelligenceplatform.com"),
  MODULAR11_BASE_URL: url(["http:", "https:", "file:"]).transform((v) => v ?? "https://www.modular11.com"),
  // 0 would abort every feed request before it starts (sources/deadline.ts: a timer of 0 fires at once).
  HTTP_TIMEOUT: duration("30s").refine((ms) => ms > 0, "must be more than 0 (e.g. 30s): a feed request needs time to answer"),
  LEAGUE: choice(["Homegrown", "Academy", "Flex"], "Homegrown"),
  AGE_GROUP: optionalText,
  DIVISION: optionalText,
});

/**
 * Every environment variable loadConfig reads (aliases too). It ignores any other name, so a
 * misspelt setting would silently leave the default: tests hold the manifests and README to this.
 */
export const ENV_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

export interface Config {
  rabbitmqUrl: string | undefined;
  rabbitmqManagementUrl: string | undefined;
  /** `postgres://...` or `pglite://<dir>`; unset means embedded PGlite in `./.matchflow/db`. */
  databaseUrl: string | undefined;
  logLevel: (typeof LOG_LEVELS)[number];
  worker: {
    concurrency: number;
    prefetch: number;
    /** WORKER_PREFETCH was set: flags that change concurrency or batch size leave the prefetch as it is. */
    prefetchFromEnv?: true;
    batchSize: number;
    /**
     * Message bytes per batch at most; "auto": a share of the V8 heap limit divided among the
     * concurrent batches, resolved when the worker starts (worker/batch-bytes.ts says why).
     */
    batchBytes: number | "auto";
    shutdownGraceMs: number;
    /** How often committed batches are summed into one info line; 0: a line per batch. */
    logIntervalMs: number;
    nameResolution: "create" | "strict";
    nameCacheTtlMs: number; // name ids reused this long: an operator's alias shows after at most this
    resultBackend: "rpc" | undefined;
    /**
     * Where the worker sends a Celery link callback, errback or chain step whose signature names
     * no `queue` (Celery's `task_default_queue`, `celery` unless the Python app changed it).
     */
    celeryDefaultQueue: string;
    /** "run": send a task's Celery follow-ups; "report": send none, say so (settle.ts). */
    celeryCanvas: "run" | "report";
    /** Celery monitoring events: none, the worker's (online, heartbeat, offline), or its tasks' too (celery/events.ts). */
    celeryEvents: "off" | "worker" | "all";
    /** Celery remote control: none, the read-only inspect commands, or those and revoke / enable_events / disable_events / heartbeat (celery/control.ts). */
    celeryControl: "off" | "inspect" | "control";
  };
  metricsPort: number;
  topology: {
    exchange: string;
    queue: string;
    routingKey: string;
    taskName: string;
    fanoutExchange: string | undefined;
    queueType: "classic" | "quorum";
  };
  publish: {
    protocol: 1 | 2;
    confirmWindow: number;
    /**
     * Budget of the `argsrepr` header (Celery's saferepr cut; Celery's own is 1,024). Display only
     * (Celery task events, so Flower), and every byte of it is parsed and stored by RabbitMQ: a match's full
     * repr (~500 characters) cost the broker ~25 us per published message here. Cut sooner on a
     * connection whose frame_max could not carry it (fit-headers.ts argsreprBudget).
     */
    argsreprMax: number;
    /**
     * How long `scrape`, `publish`, `run` and `dlq requeue` wait while the broker blocks publishing
     * (a memory or disk alarm) before the unconfirmed messages fail (`broker_blocked`, exit 4).
     * The worker waits as long as the alarm lasts: it publishes its copies on a connection of
     * their own, so its acks still get through.
     */
    blockedTimeoutMs: number;
  };
  maxMessageBytes: number;
  /** Per-transaction bounds on the worker's writes, so a stuck lock becomes a transient, retried failure. */
  db: { lockTimeoutMs: number; statementTimeoutMs: number };
  retry: { max: number; baseDelayMs: number; maxDelayMs: number };
  scrape: {
    source: "assist" | "modular11";
    assistBaseUrl: string;
    modular11BaseUrl: string;
    httpTimeoutMs: number;
    league: "Homegrown" | "Academy" | "Flex";
    ageGroup: string | undefined;
    division: string | undefined;
  };
}

type Env = Record<string, string | undefined>;

function problem(path: string, message: string): string {
  return `${path} ${message}`;
}

/** Deliveries held unacked when WORKER_PREFETCH is not set: every worker slot's batch in flight, within AMQP's 16-bit limit. */
export function defaultPrefetch(concurrency: number, batchSize: number): number {
  return Math.min(65535, Math.max(batchSize * 2, concurrency * batchSize));
}

/** Reads and validates every setting; throws one ConfigError listing every problem. */
export function loadConfig(rawEnv: Env = process.env): Config {
  // `VAR=` (as compose files and ConfigMaps often write) means "not set": use the default.
  const env: Env = Object.fromEntries(Object.entries(rawEnv).filter(([, v]) => v !== undefined && v.trim() !== ""));
  const parsed = envSchema.safeParse(env);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(problem(String(issue.path[0] ?? "environment"), issue.message));
  }

  const concurrencyText = env.WORKER_CONCURRENCY?.trim() || env.CELERY_WORKER_CONCURRENCY?.trim() || "4";
  const concurrency = wholeNumber(concurrencyText) ?? NaN;
  const concurrencyVar = env.WORKER_CONCURRENCY?.trim() ? "WORKER_CONCURRENCY" : "CELERY_WORKER_CONCURRENCY";
  if (!(concurrency >= 1 && concurrency <= 256)) {
    problems.push(problem(concurrencyVar, `"${concurrencyText}" must be a whole number from 1 to 256`));
  }

  const resultText = env.RESULT_BACKEND?.trim() || env.CELERY_RESULT_BACKEND?.trim() || "";
  let resultBackend: "rpc" | undefined;
  if (resultText === "rpc://" || resultText === "rpc") resultBackend = "rpc";
  else if (resultText !== "" && resultText !== "disabled") {
    const resultVar = env.RESULT_BACKEND?.trim() ? "RESULT_BACKEND" : "CELERY_RESULT_BACKEND";
    // The value may be a URL with a password (redis://:secret@...): never echo it in clear.
    problems.push(problem(resultVar, `"${redactUrl(resultText)}" is not supported (use rpc:// or leave it unset)`));
  }

  const prefetchText = env.WORKER_PREFETCH?.trim();
  if (prefetchText !== undefined) {
    const n = wholeNumber(prefetchText);
    if (n === undefined || n < 1 || n > 65535) problems.push(problem("WORKER_PREFETCH", `"${prefetchText}" must be a whole number from 1 to 65535`));
  }
  // Each parsed on its own: said with the other problems, not only once they are mended.
  const baseDelay = envSchema.shape.RETRY_BASE_DELAY.safeParse(env.RETRY_BASE_DELAY);
  const maxDelay = envSchema.shape.RETRY_MAX_DELAY.safeParse(env.RETRY_MAX_DELAY);
  if (baseDelay.success && maxDelay.success && baseDelay.data > maxDelay.data) {
    problems.push(problem("RETRY_BASE_DELAY", "must not exceed RETRY_MAX_DELAY"));
  }

  if (problems.length > 0 || !parsed.success) {
    throw new ConfigError(`invalid configuration:\n  - ${problems.join("\n  - ")}`, { details: problems });
  }
  const e = parsed.data;

  const batchSize = e.WORKER_BATCH_SIZE;
  const prefetch = prefetchText !== undefined ? Number(prefetchText) : defaultPrefetch(concurrency, batchSize);

  return {
    rabbitmqUrl: e.RABBITMQ_URL,
    rabbitmqManagementUrl: e.RABBITMQ_MANAGEMENT_URL,
    databaseUrl: e.DATABASE_URL,
    logLevel: e.LOG_LEVEL,
    worker: {
      concurrency,
      prefetch,
      ...(prefetchText !== undefined ? { prefetchFromEnv: true as const } : {}),
      batchSize,
      batchBytes: e.WORKER_BATCH_BYTES,
      shutdownGraceMs: e.SHUTDOWN_GRACE,
      logIntervalMs: e.WORKER_LOG_INTERVAL,
      nameResolution: e.NAME_RESOLUTION,
      nameCacheTtlMs: e.NAME_CACHE_TTL,
      resultBackend,
      celeryDefaultQueue: e.CELERY_DEFAULT_QUEUE,
      celeryCanvas: e.CELERY_CANVAS,
      celeryEvents: e.CELERY_EVENTS,
      celeryControl: e.CELERY_CONTROL,
    },
    metricsPort: e.METRICS_PORT,
    topology: {
      exchange: e.MATCHES_EXCHANGE,
      queue: e.MATCHES_QUEUE,
      routingKey: e.MATCHES_ROUTING_KEY ?? defaultRoutingKey(e.MATCHES_QUEUE),
      taskName: e.MATCHES_TASK_NAME,
      fanoutExchange: e.FANOUT_EXCHANGE,
      queueType: e.QUEUE_TYPE,
    },
    publish: { protocol: e.CELERY_PROTOCOL === "1" ? 1 : 2, confirmWindow: e.PUBLISH_CONFIRM_WINDOW, argsreprMax: e.PUBLISH_ARGSREPR_MAX, blockedTimeoutMs: e.PUBLISH_BLOCKED_TIMEOUT },
    maxMessageBytes: e.MAX_MESSAGE_BYTES,
    db: { lockTimeoutMs: e.DB_LOCK_TIMEOUT, statementTimeoutMs: e.DB_STATEMENT_TIMEOUT },
    retry: { max: e.RETRY_MAX, baseDelayMs: e.RETRY_BASE_DELAY, maxDelayMs: e.RETRY_MAX_DELAY },
    scrape: {
      source: e.SCRAPE_SOURCE,
      assistBaseUrl: e.ASSIST_BASE_URL,
      modular11BaseUrl: e.MODULAR11_BASE_URL,
      httpTimeoutMs: e.HTTP_TIMEOUT,
      league: e.LEAGUE,
      ageGroup: e.AGE_GROUP,
      division: e.DIVISION,
    },
  };
}

/** The effective configuration, safe to print or log. */
export function redactedConfig(config: Config): Record<string, unknown> {
  return {
    ...config,
    rabbitmqUrl: redactUrl(config.rabbitmqUrl) ?? "(unset: embedded in-process broker for `run`)",
    rabbitmqManagementUrl: redactUrl(config.rabbitmqManagementUrl),
    databaseUrl: redactUrl(config.databaseUrl) ?? "(unset: embedded PGlite in ./.matchflow/db)",
    // "auto" depends on the worker process's heap limit (its node flags), not this one's.
    worker: { ...config.worker, batchBytes: config.worker.batchBytes === "auto" ? "auto (a share of the worker process's heap limit per batch in flight; the worker logs the bytes as batchBytes when it starts)" : config.worker.batchBytes },
    // A mirror may take a user and password (https://user:pass@mirror/) or a token in the query.
    scrape: { ...config.scrape, assistBaseUrl: redactUrl(config.scrape.assistBaseUrl), modular11BaseUrl: redactUrl(config.scrape.modular11BaseUrl) },
  };
}

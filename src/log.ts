/**
 * JSON log lines (pino): `time` (ISO), `level` (label), `msg`, then context fields.
 * Secrets never reach a line: URL passwords are redacted by `config.redactUrl` before
 * logging, and any field named like a credential is censored here as a second guard.
 */
import { pino, type Logger } from "pino";
import { redactUrl } from "./redact-url.js";

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Where lines go; stdout by default (file descriptor 1). */
  destination?: pino.DestinationStream;
  name?: string;
}

/** Fields that are a secret as a whole: replaced by `***`. */
const SECRET_FIELDS = ["password", "authorization", "token", "secret"];
/** Fields that hold a URL: kept readable, with the password (and secret query values) masked. */
const URL_FIELDS = ["url", "rabbitmqUrl", "rabbitmqManagementUrl", "databaseUrl", "brokerUrl"];

function censor(value: unknown, path: string[]): unknown {
  const field = path[path.length - 1] ?? "";
  if (typeof value === "string" && URL_FIELDS.includes(field)) return redactUrl(value);
  return "***";
}

export function createLogger(options: LogOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? "info",
      name: options.name,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...SECRET_FIELDS, ...URL_FIELDS].flatMap((f) => [f, `*.${f}`]), censor },
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** A logger that writes nothing, for tests and library use. */
export const silentLogger: Logger = pino({ level: "silent" });

let warningRoute: ((warning: Error) => void) | undefined;

/** Node's redirection of warnings to a file, which an operator asked for: left as it is. */
const redirected = (): boolean => [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)].some((a) => a.startsWith("--redirect-warnings"));

/**
 * Node prints process warnings (node-postgres's multi-line SSL-mode notice, a deprecation) to
 * stderr as free text, which broke a container's JSON log stream into lines no collector parses.
 * They become `warn` lines of `log` instead, one each (hidden, like every warn line, at
 * LOG_LEVEL=error). Only Node's own printer is replaced, and only when it is there:
 * `--no-warnings` and NODE_NO_WARNINGS=1 keep them silent, `--redirect-warnings=<file>` keeps
 * them in the file, a library's own listener stays. The latest logger wins: a command that
 * makes its own logger routes them to it.
 */
export function logProcessWarnings(log: Logger): void {
  if (warningRoute === undefined) {
    const nodePrinter = process.listeners("warning").find((l) => l.name === "onWarning");
    if (nodePrinter === undefined || redirected()) return;
    process.removeListener("warning", nodePrinter);
  } else {
    process.removeListener("warning", warningRoute);
  }
  warningRoute = (warning: Error) => {
    const code = (warning as { code?: unknown }).code;
    log.warn({ warning: warning.name, ...(typeof code === "string" ? { code } : {}) }, warning.message);
  };
  process.on("warning", warningRoute);
}

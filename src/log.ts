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

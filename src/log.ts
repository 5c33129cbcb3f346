/**
 * JSON log lines (pino): `time` (ISO), `level` (label), `msg`, then context fields.
 * Secrets never reach a line: URL passwords are redacted by `config.redactUrl` before
 * logging, and any field named like a credential is censored here as a second guard.
 */
import { pino, type Logger } from "pino";

export type { Logger };

export interface LogOptions {
  level?: string;
  /** Where lines go; stdout by default (file descriptor 1). */
  destination?: pino.DestinationStream;
  name?: string;
}

export function createLogger(options: LogOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? "info",
      name: options.name,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: ["password", "*.password", "url", "*.url", "rabbitmqUrl", "databaseUrl", "authorization", "*.authorization"],
        censor: (value: unknown) => (typeof value === "string" ? value.replace(/\/\/([^:/@]+):([^@]*)@/, "//$1:***@") : "***"),
      },
    },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}

/** A logger that writes nothing, for tests and library use. */
export const silentLogger: Logger = pino({ level: "silent" });

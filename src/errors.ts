/**
 * Every failure the pipeline classifies carries a stable `code` and a `kind`:
 * - `permanent`: retrying cannot help (bad input, contract violation): dead-letter now;
 * - `transient`: the world may change (a connection, a lock): retry later.
 * The CLI maps kinds and codes to exit codes in one place (`cli/exit-codes.ts`).
 */
export type ErrorKind = "permanent" | "transient";

export class MatchflowError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly details: unknown;

  constructor(code: string, kind: ErrorKind, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "MatchflowError";
    this.code = code;
    this.kind = kind;
    this.details = options?.details;
  }
}

export class PermanentError extends MatchflowError {
  constructor(code: string, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(code, "permanent", message, options);
    this.name = "PermanentError";
  }
}

export class TransientError extends MatchflowError {
  constructor(code: string, message: string, options?: { cause?: unknown; details?: unknown }) {
    super(code, "transient", message, options);
    this.name = "TransientError";
  }
}

/** A configuration or usage problem: the operator must fix something before anything runs. */
export class ConfigError extends MatchflowError {
  constructor(message: string, options?: { details?: unknown }) {
    super("config_invalid", "permanent", message, options);
    this.name = "ConfigError";
  }
}

export function isMatchflowError(err: unknown): err is MatchflowError {
  return err instanceof MatchflowError;
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  // Some libraries throw plain objects (PGlite's WebAssembly runtime did: "[object Object]").
  if (typeof err === "object" && err !== null) {
    const { message } = err as { message?: unknown };
    if (typeof message === "string" && message !== "") return message;
    try {
      const json = JSON.stringify(err);
      if (json !== undefined && json !== "{}") return json.length > 300 ? `${json.slice(0, 300)}...` : json;
    } catch {
      // circular: fall through
    }
  }
  return String(err);
}

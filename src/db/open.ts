/**
 * Opens the one `Database` the process uses, from `DATABASE_URL`:
 * - `postgres://` / `postgresql://`: a `pg` Pool;
 * - `pglite://<dir>`: embedded PGlite persisted in `<dir>`; `pglite://memory`: in memory;
 * - unset: embedded PGlite in `./.matchflow/db`.
 * Errors leave both implementations as MatchflowErrors (`classifyDbError`), so callers decide
 * retry or dead-letter from `kind`/`code` without knowing the driver.
 */
import { accessSync, constants, mkdirSync } from "node:fs";
import path from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { ConfigError, TransientError, errorMessage, isMatchflowError } from "../errors.js";
import { silentLogger, type Logger } from "../log.js";
import type { Database, Queryable, QueryOptions, QueryResult, TransactionOptions } from "./database.js";
import { classifyDbError, sqlState } from "./errors.js";
import { lockPgliteDir, type PgliteLock } from "./pglite-lock.js";

export interface OpenOptions {
  log?: Logger;
  /** PostgreSQL pool size. @default 10 */
  poolSize?: number;
  /**
   * Session defaults of every PostgreSQL connection (`lock_timeout`, `statement_timeout`), so a
   * single statement outside a transaction is bounded too without a round trip to set them.
   * Unset: the server's defaults. Ignored by PGlite (one connection, nothing to wait for).
   * `readTimeoutMs` (see READ_TIMEOUT_MARGIN_MS): @default statementTimeoutMs + the margin; none without a statement timeout.
   */
  timeouts?: { lockTimeoutMs: number; statementTimeoutMs: number; readTimeoutMs?: number };
}

export const DEFAULT_PGLITE_DIR = "./.matchflow/db";
const PGLITE_SCHEME = "pglite://";
/** How often a busy PostgreSQL backend checks that its client is still there. */
const CLIENT_CHECK_INTERVAL_MS = 1000;
/**
 * How long the client waits for an answer beyond the statement timeout. The statement timeout is
 * the server's: across a silent partition (a NAT dropping its state, a failover to a new address)
 * its error never arrives, and a query waited for ever, holding its batch and its pool client;
 * the readiness probe's ping waited too, and went on saying "database up". After this the
 * connection is taken as broken (`db_connection`: the worker waits for the database) and
 * destroyed. The server ends the session it leaves idle in a transaction after as long
 * (`idle_in_transaction_session_timeout`), releasing its row locks.
 */
export const READ_TIMEOUT_MARGIN_MS = 5000;
/** TCP keepalive from this much idle time: a dead idle connection is noticed without a query. */
const KEEPALIVE_IDLE_MS = 10_000;
/** Beyond a timer's reach (about 24.8 days): a statement nothing should cut short (a migration). */
const NO_READ_TIMEOUT_MS = 2 ** 31 - 1;

export async function openDatabase(url: string | undefined, options: OpenOptions = {}): Promise<Database> {
  const log = options.log ?? silentLogger;
  if (url === undefined || url.trim() === "") return openPglite(DEFAULT_PGLITE_DIR, log);
  // Schemes are case-insensitive (RFC 3986), as node-postgres reads them.
  if (url.slice(0, PGLITE_SCHEME.length).toLowerCase() === PGLITE_SCHEME) {
    const target = url.slice(PGLITE_SCHEME.length);
    return openPglite(target === "memory" || target === "" ? undefined : target, log);
  }
  if (/^postgres(?:ql)?:\/\//i.test(url)) return openPostgres(url, options.poolSize ?? 10, log, options.timeouts);
  // Waiting would not mend it (loadConfig refuses these first; this guards the other callers).
  throw new ConfigError(`DATABASE_URL: unsupported database URL scheme "${url.split(":")[0] ?? ""}:" (use postgres://, postgresql:// or pglite://)`);
}

/** `host:port/database`, never the user or password: safe for messages and logs. */
export function describePostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || "localhost"}:${u.port || "5432"}${u.pathname.length > 1 ? u.pathname : ""}`;
  } catch {
    return "(unparsable postgres URL)";
  }
}

function rows<R>(result: { rows: unknown[]; rowCount?: number | null; affectedRows?: number }): QueryResult<R> {
  return { rows: result.rows as R[], rowCount: result.rowCount ?? result.affectedRows ?? result.rows.length };
}

/**
 * The TLS files DATABASE_URL names (`sslrootcert`, `sslcert`, `sslkey`) must be readable: pg reads
 * them as it opens each connection, and a missing or unreadable one failed every connection as
 * "database unreachable", which a worker waited out forever and `migrate` reported as exit 5. It
 * is a setting's mistake: a ConfigError (exit 2) naming the parameter and the file.
 */
export function checkTlsFiles(url: string): void {
  let params: URLSearchParams;
  try {
    params = new URL(url).searchParams;
  } catch {
    return; // pg says what is wrong with the URL itself
  }
  for (const name of ["sslrootcert", "sslcert", "sslkey"]) {
    const file = params.get(name);
    if (file === null || file === "") continue;
    try {
      accessSync(file, constants.R_OK);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw new ConfigError(`DATABASE_URL's ${name} "${file}" cannot be read (${typeof code === "string" ? code : errorMessage(err)}): mount the file there or correct the path`);
    }
  }
}

async function openPostgres(url: string, poolSize: number, log: Logger, timeouts: OpenOptions["timeouts"]): Promise<Database> {
  const where = describePostgresUrl(url);
  checkTlsFiles(url);
  const statementTimeoutMs = Math.trunc(timeouts?.statementTimeoutMs ?? 0);
  const readTimeoutMs = Math.trunc(timeouts?.readTimeoutMs ?? (statementTimeoutMs > 0 ? statementTimeoutMs + READ_TIMEOUT_MARGIN_MS : 0));
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    // Sent in the startup packet (pg skips 0 = the server's default, no limit).
    lock_timeout: Math.trunc(timeouts?.lockTimeoutMs ?? 0),
    statement_timeout: statementTimeoutMs,
    ...(readTimeoutMs > 0 ? { query_timeout: readTimeoutMs, idle_in_transaction_session_timeout: readTimeoutMs } : {}),
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    application_name: "matchflow",
    // A statement left behind by a process that is gone (a worker whose grace period ran out
    // while its batch waited on a lock) would otherwise wait on, holding its earlier row locks,
    // until its lock timeout: PostgreSQL >= 14 can notice the closed socket meanwhile. Set before
    // the pool hands the connection out (pg-pool awaits the hook); an older server refuses the
    // name, which changes nothing else. Not a startup option: there, an unknown name is fatal.
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- pg-pool awaits it (@types/pg says void)
    onConnect: (client: pg.ClientBase) => client.query(`SET client_connection_check_interval = ${CLIENT_CHECK_INTERVAL_MS}`).then(
      () => undefined,
      () => undefined,
    ),
  });
  /** Clients `acquire` has given out, with its own 'error' listener on them. */
  const listening = new WeakSet<pg.PoolClient>();
  // An idle client losing its connection emits here; without a listener it would crash the process.
  // A client `acquire` gave out once has its own listener too, which hears the same error: one
  // line per lost connection, not two that contradict each other (idle / in use).
  pool.on("error", (err, client) => {
    if (!listening.has(client)) log.warn({ err: errorMessage(err), database: where }, "idle database connection lost");
  });

  try {
    await pool.query("SELECT 1");
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new TransientError("database_unreachable", `database unreachable at ${where}: ${errorMessage(err)}`, { cause: err });
  }
  log.debug({ database: where, poolSize }, "database pool open");

  const query = async <R>(client: pg.Pool | pg.PoolClient, sql: string, params?: readonly unknown[], options?: QueryOptions, unbounded = false): Promise<QueryResult<R>> => {
    let result: pg.QueryResult | pg.QueryResult[];
    try {
      const values = params as unknown[] | undefined;
      // @types/pg lacks the per-query query_timeout pg reads (client.js: `config.query_timeout`).
      const config = { text: sql, values, ...(options?.prepare ? { name: options.prepare } : {}), ...(unbounded ? { query_timeout: NO_READ_TIMEOUT_MS } : {}) } as pg.QueryConfig;
      result = (await client.query(config)) as pg.QueryResult | pg.QueryResult[];
    } catch (err) {
      throw classifyDbError(err);
    }
    // Multi-statement SQL (simple protocol, no parameters) yields one result per statement.
    const last = Array.isArray(result) ? result[result.length - 1] : result;
    return last ? rows<R>(last) : { rows: [], rowCount: 0 };
  };

  // Any failure to get a connection (refused, database not accepting connections, auth) means
  // "the database is not there": the worker waits for it instead of burning retries.
  // A checked-out client whose backend dies between two queries emits 'error' on itself (the
  // pool only listens while it is idle); without a listener that would crash the process. The
  // failing query (or the next one) reports the error to its caller anyway.
  const acquire = async (): Promise<pg.PoolClient> => {
    try {
      const client = await pool.connect();
      if (!listening.has(client)) {
        listening.add(client);
        client.on("error", (err) => log.warn({ err: errorMessage(err), database: where }, "database connection lost"));
      }
      return client;
    } catch (err) {
      const classified = classifyDbError(err);
      throw new TransientError("database_unreachable", `database unreachable at ${where}: ${classified.message}`, { cause: err });
    }
  };

  let closing: Promise<void> | undefined;
  return {
    kind: "postgres",
    async query(sql, params, options) {
      const client = await acquire();
      let broken: Error | undefined;
      try {
        return await query(client, sql, params, options);
      } catch (err) {
        if (isMatchflowError(err) && err.code === "db_connection") broken = err;
        throw err;
      } finally {
        client.release(broken);
      }
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T> {
      const client = await acquire();
      const unbounded = options?.unbounded === true;
      let broken: Error | undefined;
      try {
        await query(client, options?.setup ? `BEGIN; ${options.setup}` : "BEGIN", undefined, undefined, unbounded);
        const tx: Queryable = { query: (sql, params, queryOptions) => query(client, sql, params, queryOptions, unbounded) };
        const result = await fn(tx);
        await query(client, "COMMIT", undefined, undefined, unbounded);
        return result;
      } catch (err) {
        // A connection that stopped answering would only queue the ROLLBACK behind the lost
        // statement: destroyed instead, which ends the transaction on the server.
        if (isMatchflowError(err) && err.code === "db_connection") {
          broken = err;
          throw err;
        }
        try {
          await client.query("ROLLBACK");
        } catch (rollbackErr) {
          // The connection is unusable: destroy it instead of returning it to the pool.
          broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
        }
        throw err;
      } finally {
        client.release(broken);
      }
    },
    close() {
      closing ??= pool.end();
      return closing;
    },
  };
}

/** The slice of PGlite this module uses (imported lazily: PGlite's WASM costs ~100 ms to load). */
interface PgliteQueryable {
  query(sql: string, params?: unknown[]): Promise<{ rows: unknown[]; affectedRows?: number }>;
  exec(sql: string): Promise<{ rows: unknown[]; affectedRows?: number }[]>;
}

/**
 * Without parameters, `exec` (simple protocol) runs, so multi-statement SQL such as a migration
 * file works as it does with `pg`; with parameters, `query` (extended protocol) runs.
 */
async function pgliteQuery<R>(target: PgliteQueryable, sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
  try {
    if (params === undefined || params.length === 0) {
      const results = await target.exec(sql);
      const last = results[results.length - 1];
      return last ? rows<R>(last) : { rows: [], rowCount: 0 };
    }
    return rows<R>(await target.query(sql, [...params]));
  } catch (err) {
    throw classifyDbError(err);
  }
}

async function openPglite(dir: string | undefined, log: Logger): Promise<Database> {
  const where = dir === undefined ? "pglite (in memory)" : `pglite at ${dir}`;
  let db: PGlite;
  let lock: PgliteLock | undefined;
  try {
    const { PGlite } = await import("@electric-sql/pglite");
    if (dir !== undefined) {
      mkdirSync(path.resolve(dir), { recursive: true });
      lock = lockPgliteDir(dir);
    }
    db = await PGlite.create(dir === undefined ? undefined : path.resolve(dir));
  } catch (err) {
    lock?.release();
    if (isMatchflowError(err)) throw err;
    throw new TransientError("database_unreachable", `database unreachable: cannot open ${where}: ${errorMessage(err)}`, { cause: err });
  }
  log.debug({ database: where }, "embedded database open");

  let closing: Promise<void> | undefined;
  return {
    kind: "pglite",
    query: (sql, params) => pgliteQuery(db, sql, params),
    // PGlite is one connection: its transaction() holds an exclusive mutex that every other
    // transaction() and top-level query() waits on, so concurrent calls queue, never interleave.
    // Consequence: inside `fn`, use only `tx` (a top-level query there would wait forever).
    async transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T> {
      try {
        return await db.transaction(async (ptx) => {
          if (options?.setup) await pgliteQuery(ptx, options.setup);
          return fn({ query: (sql, params) => pgliteQuery(ptx, sql, params) });
        });
      } catch (err) {
        // BEGIN/COMMIT failures come raw from PGlite; errors thrown by `fn` pass unchanged.
        throw sqlState(err) === undefined ? err : classifyDbError(err);
      }
    },
    close() {
      closing ??= db.close().finally(() => lock?.release());
      return closing;
    },
  };
}

/**
 * The one narrow interface every SQL statement goes through (query + transaction), served by
 * PostgreSQL (`pg`) and by embedded PGlite, so the same code and tests run on both.
 */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface QueryOptions {
  /**
   * Run as a named server-side prepared statement, parsed and planned once per connection and
   * then only bound and executed: for the hot statements of the write path, whose long text
   * would otherwise be sent and parsed for every batch. One name per SQL text. Ignored by PGlite.
   */
  prepare?: string;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>>;
  /**
   * True when independent queries may be sent at once (a pool: each takes its own connection).
   * A transaction is one connection, where concurrent queries would only queue (and pg
   * deprecates that), so it leaves this unset.
   */
  readonly concurrent?: boolean;
}

export interface TransactionOptions {
  setup?: string;
  /** No client-side read timeout for its statements (a migration, bounded by nothing else either). */
  unbounded?: boolean;
}

export interface Database extends Queryable {
  readonly kind: "postgres" | "pglite";
  /**
   * Runs `fn` in one transaction: COMMIT when it resolves, ROLLBACK when it throws.
   * `options.setup`: statements without parameters (e.g. `SET LOCAL ...`) sent in the same round
   * trip as BEGIN, so that bounding a transaction costs nothing extra.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Idempotent. */
  close(): Promise<void>;
}

/**
 * The narrow database interface the worker loop is written against: one call writes a whole
 * batch in one transaction and reports an outcome per item. `db/match-store.ts` implements it
 * on the `Database` interface (PostgreSQL or PGlite).
 */
import type { MatchData } from "../contract/index.js";
import type { MatchflowError } from "../errors.js";

export interface StoreItem {
  match: MatchData;
  /** The task argument exactly as received (unknown fields included), stored as `matches.raw`. */
  raw: unknown;
  taskId: string;
  /** ISO instant of the observation: `scraped_at`, or the delivery time when the producer sent none. */
  observedAt: string;
  /**
   * Requeued from a dead-letter queue (`dlq requeue`): its task's `ingest_failures` row, if any,
   * is marked resolved when it is stored. Only these are looked up: the others never failed for good.
   */
  requeued?: boolean;
}

/** A message that failed before reaching the database, to be recorded in `ingest_failures`. */
export interface FailureRecord {
  reasonCode: string;
  detail: string;
  taskId?: string | undefined;
  messageId?: string | undefined;
  externalMatchId?: string | undefined;
  raw: unknown;
}

export type StoreOutcome =
  | { ok: true; outcome: "created" | "updated" | "unchanged"; matchId: number; reason?: string | undefined }
  | { ok: false; error: MatchflowError };

export interface MatchStore {
  /**
   * Writes `items` and records `failures` (plus an `ingest_failures` row for every item that
   * fails permanently inside the store) atomically (one statement, or one transaction). Returns one outcome per item, in
   * order. Throws a classified MatchflowError when the transaction as a whole cannot commit.
   */
  writeBatch(items: StoreItem[], failures: FailureRecord[]): Promise<StoreOutcome[]>;
  /** Resolves when the database answers a trivial query (readiness, outage recovery). */
  ping(): Promise<void>;
  /**
   * Before the first delivery: opens `connections` connections and prepares the write path's
   * statements on each (an empty batch), so the first batches do not pay for it. Best effort:
   * resolves with the number of connections warmed, never rejects.
   */
  warmUp(connections: number): Promise<number>;
  close(): Promise<void>;
}

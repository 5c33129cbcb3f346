/**
 * `matchflow process`: the worker's task run on given matches directly against the database,
 * without the queue (the original's "test task execution manually"). Same contract check
 * (`validateForConsumer`), same store (`writeBatch`: one transaction per batch, failures
 * recorded in `ingest_failures`), so what it prints is what the worker would have done.
 * A database that is gone or refuses every write stops the run (ProcessStopped), as it holds
 * the worker's batch: it is not the matches' failure.
 */
import { timeOrderedTaskId } from "../celery/task-id.js";
import { validateForConsumer } from "../contract/index.js";
import { classifyDbError, isDatabaseWide } from "../db/errors.js";
import { errorMessage, MatchflowError } from "../errors.js";
import type { FailureRecord, MatchStore, StoreItem } from "../worker/store.js";
import { printable } from "../terminal-text.js";

/** One input item: a parsed JSON value, or a line that was not JSON. */
export type ProcessInput = { ok: true; value: unknown } | { ok: false; error: string };

export type ProcessOutcome =
  | { index: number; externalMatchId: string | null; status: "created" | "updated" | "unchanged" }
  | { index: number; externalMatchId: string | null; status: "invalid" | "failed"; error: string };

export interface ProcessSummary {
  created: number;
  updated: number;
  unchanged: number;
  invalid: number;
  failed: number;
}

export interface ProcessOptions {
  /** Items per transaction (WORKER_BATCH_SIZE). */
  batchSize: number;
  /** Clock for the observation time of matches without `scraped_at`. @default Date.now */
  now?: () => number;
}

function externalIdOf(value: unknown): string | null {
  if (typeof value === "object" && value !== null && "external_match_id" in value) {
    const id = value.external_match_id;
    return typeof id === "string" && id !== "" ? id : null;
  }
  return null;
}

/**
 * The run stopped at a batch the database would not take whatever its data (unreachable, or
 * refusing writes: read-only, disk full, permission, schema, shut down). Its code is the
 * database's (exit 5, cli/exit-codes.ts); its message says what was stored before and how many
 * matches were left: neither they nor the refused batch were written or recorded as failed, so
 * the same input can simply be run again. `outcomes` are those of the batches committed before.
 */
export class ProcessStopped extends MatchflowError {
  readonly outcomes: readonly ProcessOutcome[];

  constructor(cause: MatchflowError, outcomes: readonly ProcessOutcome[], total: number) {
    const stored = formatSummary(summariseOutcomes(outcomes));
    const left = total - outcomes.length;
    super(
      cause.code,
      cause.kind,
      `${cause.message} (${cause.code}): stopped at match ${outcomes.length + 1} of ${total}; before it: ${stored}; the ${left} match${left === 1 ? "" : "es"} from there on ${left === 1 ? "was" : "were"} not written nor recorded as failed (run the same input again once the database takes writes)`,
      { cause, details: { stoppedAt: outcomes.length, total } },
    );
    this.name = "ProcessStopped";
    this.outcomes = outcomes;
  }
}

/**
 * Validates and writes every item, in batches; returns one outcome per input item, in input
 * order. A batch whose transaction fails as a whole marks its items `failed` and the run goes
 * on, unless the database itself failed it (isDatabaseWide: every later batch would fail the same way): then it throws ProcessStopped,
 * holding the outcomes of the batches committed before.
 */
export async function processMatches(store: MatchStore, inputs: readonly ProcessInput[], options: ProcessOptions): Promise<ProcessOutcome[]> {
  const now = options.now ?? Date.now;
  const outcomes: ProcessOutcome[] = new Array<ProcessOutcome>(inputs.length);
  const batchSize = Math.max(1, options.batchSize);

  for (let start = 0; start < inputs.length; start += batchSize) {
    const items: StoreItem[] = [];
    const itemIndexes: number[] = [];
    const failures: FailureRecord[] = [];
    for (let index = start; index < Math.min(inputs.length, start + batchSize); index++) {
      const input = inputs[index] as ProcessInput;
      // Ordered by time (celery/task-id.ts): of two runs' observations with the same scraped_at,
      // the later run's wins, as an operator re-running a corrected file expects.
      const taskId = `manual-${timeOrderedTaskId()}`;
      if (!input.ok) {
        outcomes[index] = { index, externalMatchId: null, status: "invalid", error: input.error };
        continue;
      }
      const externalMatchId = externalIdOf(input.value);
      const result = validateForConsumer(input.value);
      if (!result.ok) {
        const error = result.issues.map((i) => i.message).join("; ");
        outcomes[index] = { index, externalMatchId, status: "invalid", error };
        failures.push({ reasonCode: result.code, detail: error, taskId, externalMatchId: externalMatchId ?? undefined, raw: input.value });
        continue;
      }
      items.push({ match: result.match, raw: input.value, taskId, observedAt: result.match.scraped_at ?? new Date(now()).toISOString() });
      itemIndexes.push(index);
    }
    try {
      const results = await store.writeBatch(items, failures);
      results.forEach((r, i) => {
        const index = itemIndexes[i] as number;
        const externalMatchId = items[i]?.match.external_match_id ?? null;
        outcomes[index] = r.ok ? { index, externalMatchId, status: r.outcome } : { index, externalMatchId, status: "failed", error: `${r.error.code}: ${r.error.message}` };
      });
    } catch (err) {
      const classified = classifyDbError(err);
      // Batches are written in input order, so the outcomes so far are exactly those of `start` items.
      if (isDatabaseWide(classified)) throw new ProcessStopped(classified, outcomes.slice(0, start), inputs.length);
      itemIndexes.forEach((index, i) => {
        outcomes[index] = { index, externalMatchId: items[i]?.match.external_match_id ?? null, status: "failed", error: errorMessage(err) };
      });
    }
  }
  return outcomes;
}

export function summariseOutcomes(outcomes: readonly ProcessOutcome[]): ProcessSummary {
  const summary: ProcessSummary = { created: 0, updated: 0, unchanged: 0, invalid: 0, failed: 0 };
  for (const o of outcomes) summary[o.status]++;
  return summary;
}

/** `external id: created`, `match 3: invalid: home_team is required`. */
/** One line per match; ids and errors (which quote names) come from the input: escaped (terminal-text.ts). */
export function formatOutcome(o: ProcessOutcome): string {
  const who = printable(o.externalMatchId ?? `match ${o.index + 1}`);
  return "error" in o ? `${who}: ${o.status}: ${printable(o.error)}` : `${who}: ${o.status}`;
}

export function formatSummary(s: ProcessSummary): string {
  return `${s.created} created, ${s.updated} updated, ${s.unchanged} unchanged, ${s.invalid} invalid, ${s.failed} failed`;
}

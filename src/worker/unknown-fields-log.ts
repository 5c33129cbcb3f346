/**
 * What the worker says about fields outside MatchData v1 (the consumer keeps them in `raw`; the
 * contract module reports them, prepare.ts passes them on): every one counted in
 * matchflow_contract_unknown_fields_total, and each field name's first sighting logged with the
 * task that carried it, so an operator can find the producer that drifted from the contract
 * (the original silently dropped renamed fields). A producer sends the same extra field in
 * every message: one line per name, not per task. The names are the producer's: the line is
 * bounded (MAX_NAMES names a process, each cut to MAX_NAME_CHARS).
 */
import type { Logger } from "../log.js";
import { textHead } from "../text-head.js";
import type { BoundedCounter } from "./metrics.js";

const MAX_NAMES = 100;
const MAX_NAME_CHARS = 100;

export class UnknownFieldsLog {
  private readonly logged = new Set<string>();

  constructor(private readonly options: { log: Logger; counter: BoundedCounter<"field"> }) {}

  seen(fields: readonly string[], taskId: string, externalMatchId: string): void {
    const fresh: string[] = [];
    for (const field of fields) {
      this.options.counter.inc({ field });
      const name = textHead(field, MAX_NAME_CHARS);
      if (this.logged.has(name) || this.logged.size >= MAX_NAMES) continue;
      this.logged.add(name);
      fresh.push(name);
    }
    if (fresh.length === 0) return;
    this.options.log.warn(
      { taskId, externalMatchId, fields: fresh },
      "fields outside MatchData v1: kept in the stored raw message, not in any column (first sighting of each; all counted in matchflow_contract_unknown_fields_total)",
    );
  }
}

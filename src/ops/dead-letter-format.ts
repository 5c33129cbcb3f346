/** Human output of `dlq list`. Pure. */
import type { DeadLetterSummary } from "./dead-letter-message.js";
import type { DeadLetterListing } from "./dead-letters.js";
import { noMatchHint, type CodeCount } from "./error-code-filter.js";
import { displayWidth, padEndToWidth, printable, truncateToWidth } from "../terminal-text.js";

function clip(text: string, max: number): string {
  return truncateToWidth(text.replace(/\s+/g, " ").trim(), max);
}

function row(d: DeadLetterSummary): string[] {
  // Every cell comes from the message, i.e. from whoever could publish it: escaped (terminal-text.ts).
  return [
    // No id at all: the body reference, which dlq show/requeue accept in place of a task id.
    d.taskId ?? d.bodyRef ?? "?",
    d.externalMatchId ?? "-",
    d.errorCode ?? (d.decodeError ? "undecodable" : "?"),
    d.attempts === null ? "?" : String(d.attempts),
    String(d.requeues),
    d.failedAt ?? "?",
    clip(d.errorMessage ?? d.decodeError ?? "", 100),
  ].map(printable);
}

/** A missing dead-letter queue, said the same way by every dlq command: with no work queue either, a mistyped MATCHES_QUEUE or vhost. */
export function missingDeadLetterQueue(queue: string, workQueue: string, workQueueExists: boolean): string {
  return workQueueExists
    ? `dead-letter queue ${queue} does not exist (nothing was dead-lettered on this vhost yet)`
    : `dead-letter queue ${queue} does not exist, nor does work queue ${workQueue}: check MATCHES_QUEUE and the vhost`;
}

export function formatDeadLetterListing(listing: DeadLetterListing): string {
  if (!listing.exists) return `${missingDeadLetterQueue(listing.queue, listing.workQueue, listing.workQueueExists !== false)}\n`;
  const warnings = listing.warnings.map((w) => `warning: ${w}`);
  // "Empty" while another consumer holds letters is not the whole truth: its warning goes along.
  if (listing.total === 0) return [`dead-letter queue ${listing.queue} is empty`, ...warnings].join("\n") + "\n";
  if (listing.matching === 0 && !listing.cutShort) return [noneWithCode(listing.queue, listing.total, listing.codes ?? [], listing.codesPresent), ...warnings].join("\n") + "\n";
  const header = ["task id", "external id", "error", "attempts", "requeues", "failed at", "message"];
  const rows = listing.items.map(row);
  // Loops, not Math.max(...spread): a listing of 125,000+ letters overflowed the call stack.
  const widths = header.map((h) => h.length);
  for (const r of rows) r.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, displayWidth(cell))));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : padEndToWidth(c, widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [headline(listing), line(header), ...rows.map(line), ...warnings].join("\n") + "\n";
}

/**
 * `dlq list|requeue|purge --code` that took none of the `read` dead letters: said with the codes
 * they have, and a pattern that differs from one only in case (error-code-filter.ts noMatchHint).
 */
export function noneWithCode(queue: string, read: number, patterns: readonly string[], present: readonly CodeCount[] | undefined): string {
  const none = `none of the ${read} dead letter${read === 1 ? "" : "s"} in ${queue} has code ${patterns.join(" or ")}`;
  return present === undefined ? none : `${none}; ${printable(noMatchHint(patterns, present))}`;
}

function headline(listing: DeadLetterListing): string {
  const n = listing.items.length;
  const letters = (count: number) => `${count} dead letter${count === 1 ? "" : "s"}`;
  // Another client took or holds some: claim neither the reported total nor that --limit shows more.
  if (listing.cutShort) return `${letters(n)} read from ${listing.queue}; it reported ${listing.total} ready, the others were taken or are held by another client meanwhile`;
  if (listing.matching !== null) {
    const more = n < listing.matching ? ` (showing the first ${n}; --limit N for more)` : "";
    return `${letters(listing.matching)} with code ${codesText(listing)} of ${listing.total} in ${listing.queue}${more}`;
  }
  const shown = n < listing.total ? ` (showing the first ${n}; --limit N for more)` : "";
  return `${letters(listing.total)} in ${listing.queue}${shown}`;
}

function codesText(listing: DeadLetterListing): string {
  return (listing.codes ?? []).join(" or ");
}

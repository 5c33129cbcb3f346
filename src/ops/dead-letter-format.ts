/** Human output of `dlq list`. Pure. */
import type { DeadLetterSummary } from "./dead-letter-message.js";
import type { DeadLetterListing } from "./dead-letters.js";

function clip(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, " ").trim();
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

function row(d: DeadLetterSummary): string[] {
  return [
    d.taskId ?? "?",
    d.externalMatchId ?? "-",
    d.errorCode ?? (d.decodeError ? "undecodable" : "?"),
    d.attempts === null ? "?" : String(d.attempts),
    d.failedAt ?? "?",
    clip(d.errorMessage ?? d.decodeError ?? "", 100),
  ];
}

export function formatDeadLetterListing(listing: DeadLetterListing): string {
  if (!listing.exists) return `dead-letter queue ${listing.queue} does not exist (nothing was dead-lettered on this vhost yet)\n`;
  if (listing.total === 0) return `dead-letter queue ${listing.queue} is empty\n`;
  const header = ["task id", "external id", "error", "attempts", "failed at", "message"];
  const rows = listing.items.map(row);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  const shown = listing.items.length < listing.total ? ` (showing the first ${listing.items.length}; --limit N for more)` : "";
  const warnings = listing.warnings.map((w) => `warning: ${w}`);
  return [`${listing.total} dead letter${listing.total === 1 ? "" : "s"} in ${listing.queue}${shown}`, line(header), ...rows.map(line), ...warnings].join("\n") + "\n";
}

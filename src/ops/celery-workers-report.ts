/** What `matchflow workers` and `matchflow revoke` print, from the workers' replies. Pure. */
import { isObject } from "../celery/decode.js";
import { printable } from "../terminal-text.js";

/** One worker as `inspect stats` describes it (matchflow's and Celery's replies alike). */
export interface WorkerRow {
  node: string;
  software: string;
  pid: number | null;
  uptimeS: number | null;
  processed: number | null;
  concurrency: number | null;
}

export function workerRows(replies: ReadonlyMap<string, unknown>): WorkerRow[] {
  const rows: WorkerRow[] = [];
  for (const [node, reply] of replies) {
    const stats = isObject(reply) ? reply : {};
    const total = isObject(stats.total) ? Object.values(stats.total).reduce<number>((sum, n) => sum + (typeof n === "number" ? n : 0), 0) : null;
    const pool = isObject(stats.pool) ? stats.pool : {};
    rows.push({
      node,
      // A Celery worker's stats name no software; matchflow's say sw_ident and sw_ver.
      software: typeof stats.sw_ident === "string" ? `${stats.sw_ident} ${typeof stats.sw_ver === "string" ? stats.sw_ver : ""}`.trim() : "celery",
      pid: typeof stats.pid === "number" ? stats.pid : null,
      uptimeS: typeof stats.uptime === "number" ? stats.uptime : null,
      processed: total,
      concurrency: typeof pool["max-concurrency"] === "number" ? pool["max-concurrency"] : null,
    });
  }
  return rows.sort((a, b) => a.node.localeCompare(b.node));
}

function uptime(s: number | null): string {
  if (s === null) return "-";
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${Math.floor(s % 60)}s` : `${Math.floor(s)}s`;
}

/**
 * The table of `matchflow workers`, or why it is empty. Names and versions are what any client on the vhost replied: escaped (terminal-text.ts).
 * With `destination`, an empty list names the nodes asked: "no worker answered" read as if the
 * whole vhost were silent, when a mistyped node name is the likelier cause.
 */
export function formatWorkers(rows: readonly WorkerRow[], timeoutMs: number, destination: readonly string[] = []): string {
  if (rows.length === 0) {
    const who = destination.length === 0 ? "no worker" : `no named worker (${printable(destination.join(", "))})`;
    return `${who} answered within ${timeoutMs / 1000} s (matchflow workers answer with CELERY_CONTROL=inspect or control; Celery workers always do)\n`;
  }
  const table = [["node", "software", "pid", "uptime", "processed", "concurrency"], ...rows.map((r) => [printable(r.node), printable(r.software), r.pid === null ? "-" : String(r.pid), uptime(r.uptimeS), r.processed === null ? "-" : r.processed.toLocaleString("en-US"), r.concurrency === null ? "-" : String(r.concurrency)])];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const lines = table.map((row) => row.map((cell, i) => (i >= 2 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join("  ").trimEnd());
  return `${lines.join("\n")}\n${rows.length} worker${rows.length === 1 ? "" : "s"} answered\n`;
}

/** Whether `matchflow revoke` wrote the ids to the workers' database, or why not. */
export type RevokeStored = { stored: true } | { stored: false; reason: string };

export interface RevokeReport {
  text: string;
  /** Workers that flagged the ids. */
  obeyed: number;
  /** Whether the revoke holds anywhere: a worker flagged the ids, or they are in the workers' database. */
  effective: boolean;
}

/** Whether `matchflow revoke` wrote its `count` ids to the workers' database, as one line. */
export function revokeStoredLine(stored: RevokeStored, count: number): string {
  return stored.stored
    ? `written to the database (celery_revoked): matchflow workers read ${count === 1 ? "it" : "them"} there, running ones within 10 s, those that start within 3 hours at start-up`
    : `not written to the database: ${stored.reason}`;
}

/** Each worker's answer to `revoke`, whether the ids were written to the database, and a summary line. */
export function formatRevoke(replies: ReadonlyMap<string, unknown>, ids: readonly string[], timeoutMs: number, stored: RevokeStored): RevokeReport {
  const nodes = [...replies.keys()].sort();
  let obeyed = 0;
  const lines = nodes.map((node) => {
    const reply = replies.get(node);
    if (isObject(reply) && typeof reply.ok === "string") {
      obeyed++;
      return printable(`${node}: ${reply.ok}`);
    }
    return printable(`${node}: ERROR ${isObject(reply) && typeof reply.error === "string" ? reply.error : JSON.stringify(reply)}`);
  });
  const what = `${ids.length} task${ids.length === 1 ? "" : "s"}`;
  const database = revokeStoredLine(stored, ids.length);
  const summary =
    obeyed > 0
      ? `${obeyed} worker${obeyed === 1 ? "" : "s"} flagged ${what} as revoked: a worker that receives one dead-letters it as task_revoked (for 3 hours; workers started later take the ids over from these${stored.stored ? " and from the database" : ""})`
      : nodes.length > 0
        ? `no worker flagged ${what} as revoked: matchflow workers obey revoke with CELERY_CONTROL=control`
        : `no worker answered within ${timeoutMs / 1000} s${stored.stored ? "" : ": nothing revoked"} (matchflow workers obey revoke with CELERY_CONTROL=control; Celery workers always do)`;
  return { text: `${[...lines, database, summary].join("\n")}\n`, obeyed, effective: obeyed > 0 || stored.stored };
}

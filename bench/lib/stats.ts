/** Percentiles, checks and a plain table: the arithmetic of the reports. */
import type pg from "pg";

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i]!;
}

export function quantiles(values: number[]): { count: number; p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number } {
  const s = Float64Array.from(values).sort();
  const arr = Array.from(s);
  return { count: arr.length, p50Ms: percentile(arr, 0.5), p95Ms: percentile(arr, 0.95), p99Ms: percentile(arr, 0.99), maxMs: arr.at(-1) ?? NaN };
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[s.length >> 1] ?? NaN;
}

/**
 * Waits until `table` holds `expected` rows, then returns the instant the count was first seen
 * complete (epoch ms). `count(*)` scans the table, so polling it every 20 ms from the start would
 * spend a noticeable share of the two cores the measured processes compete for (~5 ms a scan at
 * 50,000 wide rows). The interval follows the remaining work instead: a quarter of the time the
 * observed rate says is left, between 20 and 500 ms, so the end instant is still seen within
 * ~20 ms plus one count query while the scans early in the run are few.
 */
export async function waitForRows(pool: pg.Pool, table: "matches" | "bench_flat_matches", expected: number, timeoutMs: number, details?: () => string): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let first: { at: number; rows: number } | undefined;
  let seen = 0;
  for (;;) {
    seen = Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n ?? 0);
    const now = Date.now();
    if (seen >= expected) return now;
    if (now > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${expected} rows in ${table}\n${seen} rows so far\n${details?.() ?? ""}`);
    if (seen > 0 && !first) first = { at: now, rows: seen };
    const rate = first && seen > first.rows ? (seen - first.rows) / (now - first.at) : 0;
    const intervalMs = rate > 0 ? Math.min(500, Math.max(20, (expected - seen) / rate / 4)) : 20;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Every expected id present exactly once, nothing else. Throws with the difference. */
export async function checkExactlyOnce(pool: pg.Pool, table: "matches" | "bench_flat_matches", ids: string[]): Promise<void> {
  const { rows } = await pool.query<{ total: string; distinct_ids: string; matched: string }>(
    `SELECT count(*) AS total, count(DISTINCT external_match_id) AS distinct_ids,
            count(*) FILTER (WHERE external_match_id = ANY($1::text[])) AS matched
       FROM ${table}`,
    [ids],
  );
  const r = rows[0]!;
  const unique = new Set(ids).size;
  if (Number(r.total) !== unique || Number(r.distinct_ids) !== unique || Number(r.matched) !== unique) {
    throw new Error(`${table}: expected ${unique} distinct matches exactly once, found ${r.total} rows, ${r.distinct_ids} distinct ids, ${r.matched} of the expected ids`);
  }
}

/** First and last row creation instants (`now()` of the inserting transaction), epoch ms. */
export async function creationSpan(pool: pg.Pool, table: "matches" | "bench_flat_matches"): Promise<{ firstMs: number; lastMs: number }> {
  const { rows } = await pool.query<{ first: string; last: string }>(`SELECT extract(epoch FROM min(created_at)) * 1000 AS first, extract(epoch FROM max(created_at)) * 1000 AS last FROM ${table}`);
  return { firstMs: Number(rows[0]?.first), lastMs: Number(rows[0]?.last) };
}

/** Markdown-ish table for stdout. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  return [line(cells[0]!), `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`, ...cells.slice(1).map(line)].join("\n");
}

export const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

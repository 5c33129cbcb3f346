/** Percentiles, checks and a plain table: the arithmetic of the reports. */
import type pg from "pg";
import { waitFor } from "./proc.js";

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
 * Waits until `table` holds `expected` rows (polled every 20 ms, so the end instant is within
 * ~20 ms plus one count query), then checks every expected id is there exactly once.
 * Returns the instant the count was first seen complete (epoch ms).
 */
export async function waitForRows(pool: pg.Pool, table: "matches" | "bench_flat_matches", expected: number, timeoutMs: number, details?: () => string): Promise<number> {
  let seen = 0;
  await waitFor(`${expected} rows in ${table}`, async () => {
    seen = Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n ?? 0);
    return seen >= expected;
  }, timeoutMs, () => `${seen} rows so far\n${details?.() ?? ""}`);
  return Date.now();
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

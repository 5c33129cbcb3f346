/**
 * Driving matchflow as production runs it: the built CLI (`node dist/cli/main.js`) as child
 * processes (`worker`, `scrape`), a local HTTP feed server standing in for the assist feed, and
 * the worker's own figures (Prometheus histogram, batch log lines).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import type { League } from "../../src/contract/index.js";
import type { GeneratedFeed } from "../feeds/generate.js";
import { DEPLOYED_SCRAPER_CONFIRM_WINDOW, DEPLOYED_SCRAPER_MALLOC_ARENA_MAX, DEPLOYED_SCRAPER_NODE_ARGS, DEPLOYED_WORKER_NODE_ARGS } from "./deployed.js";
import { startChild, waitFor, type Child } from "./proc.js";
import { registerCleanup } from "./services.js";
// A port nothing listens on yet, for the worker's metrics server (its logs are buffered 4 KB at a
// time, so it cannot tell us a port it chose itself).
import { closedPort as freePort } from "../../test/fixtures/feed-server.js";
import { SEASON_FIRST_YEAR } from "./matches.js";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const CLI = ["dist/cli/main.js"];

/** Serves /data/schedule/{key}.json and /data/standings/{key}.json of each feed (league) from memory. */
export async function startFeedServer(feeds: GeneratedFeed | GeneratedFeed[]): Promise<{ url: string; requests: () => number; close(): Promise<void> }> {
  const docs = new Map<string, string>();
  for (const feed of Array.isArray(feeds) ? feeds : [feeds]) {
    docs.set(`/data/schedule/${feed.key}.json`, JSON.stringify(feed.schedule));
    docs.set(`/data/standings/${feed.key}.json`, JSON.stringify(feed.standings));
  }
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    const body = docs.get((req.url ?? "").split("?")[0] ?? "");
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface WorkerProcess extends Child {
  metricsUrl: string;
}

/** Starts `matchflow worker` and waits until it consumes (/readyz answers 200); `env.extra`: more settings (e.g. MATCHES_QUEUE). */
export async function startMatchflowWorker(env: { rabbitmqUrl: string; databaseUrl: string; extra?: Record<string, string> }, flags: string[] = []): Promise<WorkerProcess> {
  const port = await freePort();
  // The worker runs as deployed: deploy/k8s/base/worker/deployment.yaml gives node the same heap
  // flags (the container's command). BENCH_WORKER_NODE_ARGS replaces them, e.g. "" for none, or
  // "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the worker.
  const nodeArgs = (process.env.BENCH_WORKER_NODE_ARGS ?? DEPLOYED_WORKER_NODE_ARGS).split(" ").filter(Boolean);
  const child = startChild(process.execPath, [...nodeArgs, ...CLI, "worker", "--metrics-port", String(port), ...flags], {
    cwd: ROOT,
    env: {
      ...process.env,
      RABBITMQ_URL: env.rabbitmqUrl,
      DATABASE_URL: env.databaseUrl,
      LOG_LEVEL: "info",
      NODE_ENV: "production",
      ...env.extra,
    },
  });
  registerCleanup(async () => {
    if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill("SIGKILL");
    await child.exited;
  });
  let lastLines = "";
  child.onLine((line) => {
    lastLines = (lastLines + line + "\n").slice(-5000);
  });
  const metricsUrl = `http://127.0.0.1:${port}`;
  const details = () => `${lastLines}\n${child.output()}`;
  await waitFor("the worker to be ready", async () => child.child.exitCode !== null || (await fetch(`${metricsUrl}/readyz`).catch(() => undefined))?.ok === true, 30_000, details, 50);
  if (child.child.exitCode !== null) throw new Error(`the worker exited (${child.child.exitCode}) before it was ready\n${details()}`);
  return { ...child, metricsUrl };
}

/**
 * Runs `matchflow scrape` against the feed server, publishing, as the CronJob runs it (its node
 * flags, malloc arenas and confirm window, deploy/k8s/base/scraper/cronjob.yaml; BENCH_SCRAPER_NODE_ARGS
 * replaces the flags, "" for none); resolves when it exits. One league (default Homegrown);
 * `env.extra`: more settings (e.g. MATCHES_QUEUE and MATCHES_ROUTING_KEY for a league's own queue).
 */
export function startScrape(env: { rabbitmqUrl: string; feedUrl: string; league?: League; extra?: Record<string, string> }): Child {
  const nodeArgs = (process.env.BENCH_SCRAPER_NODE_ARGS ?? DEPLOYED_SCRAPER_NODE_ARGS).split(" ").filter(Boolean);
  return startChild(process.execPath, [...nodeArgs, ...CLI, "scrape", "--league", env.league ?? "Homegrown", "--season", String(SEASON_FIRST_YEAR), "--quiet"], {
    cwd: ROOT,
    env: {
      PUBLISH_CONFIRM_WINDOW: DEPLOYED_SCRAPER_CONFIRM_WINDOW,
      MALLOC_ARENA_MAX: DEPLOYED_SCRAPER_MALLOC_ARENA_MAX,
      ...process.env,
      RABBITMQ_URL: env.rabbitmqUrl,
      ASSIST_BASE_URL: env.feedUrl,
      SCRAPE_SOURCE: "assist",
      LOG_LEVEL: "warn",
      NODE_ENV: "production",
      ...env.extra,
    },
  });
}

export interface HistogramQuantiles {
  count: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
}

/** p50/p95/p99 of a Prometheus histogram, interpolated linearly inside its buckets. */
export function histogramQuantiles(metricsText: string, name: string): HistogramQuantiles {
  const buckets: { le: number; count: number }[] = [];
  const re = new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\S+)$`, "gm");
  for (const m of metricsText.matchAll(re)) buckets.push({ le: m[1] === "+Inf" ? Infinity : Number(m[1]), count: Number(m[2]) });
  buckets.sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.count ?? 0;
  const q = (p: number): number => {
    const rank = p * total;
    let prevLe = 0;
    let prevCount = 0;
    for (const b of buckets) {
      if (b.count >= rank) {
        if (b.le === Infinity) return prevLe * 1000;
        const inside = b.count - prevCount;
        return (prevLe + (inside === 0 ? 0 : ((rank - prevCount) / inside) * (b.le - prevLe))) * 1000;
      }
      prevLe = b.le;
      prevCount = b.count;
    }
    return NaN;
  };
  return { count: total, p50Ms: q(0.5), p95Ms: q(0.95), p99Ms: q(0.99) };
}

export interface WorkerSide extends HistogramQuantiles {
  /** Database transactions (batches) the worker ran: `matchflow_batch_size_count`. */
  batches: number;
}

/** The worker's own view from its /metrics: task duration quantiles and the number of batches. */
export async function workerQuantiles(worker: WorkerProcess): Promise<WorkerSide> {
  const text = await (await fetch(`${worker.metricsUrl}/metrics`)).text();
  const batches = Number(/^matchflow_batch_size_count(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? NaN);
  return { ...histogramQuantiles(text, "matchflow_task_duration_seconds"), batches };
}

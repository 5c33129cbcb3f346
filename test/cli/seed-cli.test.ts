/**
 * The seed's command lines and settings, given to the real CLI (a child process, no services):
 * `celery worker --loglevel=info --queues=matches --concurrency=4`'s flags, `scrape --use-queue`,
 * and a seed ConfigMap's SUPABASE_URL said as not read.
 */
import { describe, expect, it } from "vitest";
import { runIsolatedCli as runCli, SPAWN_TIMEOUT } from "../helpers/cli-isolated.js";


describe("the seed's command lines", { timeout: SPAWN_TIMEOUT, concurrent: true }, () => {
  it("worker takes the seed's Celery flags --loglevel=info --queues=matches --concurrency=4 (then wants RABBITMQ_URL)", async () => {
    const { code, stderr } = await runCli(["worker", "--loglevel=info", "--queues=matches", "--concurrency=4"]);
    expect(stderr).not.toMatch(/unknown option/);
    expect(stderr).toMatch(/RABBITMQ_URL is not set/);
    expect(code).toBe(2);
  });

  it("worker -l refuses a level it does not know, naming the flag (exit 2)", async () => {
    const { code, stderr } = await runCli(["worker", "-l", "verbose"]);
    expect(stderr).toMatch(/--loglevel must be/);
    expect(code).toBe(2);
  });

  it("scrape takes the seed's --use-queue (publishing, the default: then wants RABBITMQ_URL), and refuses it with --no-submit", async () => {
    const withQueue = await runCli(["scrape", "--use-queue", "--source-dir", "samples/mlsnext"]);
    expect(withQueue.stderr).not.toMatch(/unknown option/);
    expect(withQueue.stderr).toMatch(/RABBITMQ_URL is not set/);
    expect(withQueue.code).toBe(2);
    const both = await runCli(["scrape", "--use-queue", "--no-submit", "--source-dir", "samples/mlsnext"]);
    expect(both.stderr).toMatch(/--use-queue.*cannot be used with.*--no-submit/);
    expect(both.code).toBe(2);
  });

  it("a seed ConfigMap's SUPABASE_URL / SUPABASE_KEY are said as not read when a command starts (exit 0), without their values", async () => {
    const { code, stderr } = await runCli(["config"], { SUPABASE_URL: "https://abc.supabase.co", SUPABASE_KEY: "s3cret-key" });
    expect(code).toBe(0);
    expect(stderr).toMatch(/SUPABASE_URL is not read by matchflow and is ignored: .*DATABASE_URL/);
    expect(stderr).toMatch(/SUPABASE_KEY is not read by matchflow/);
    expect(stderr).not.toContain("s3cret");
  });
});

/** Printing the configuration must never print a password. */
import { describe, expect, it } from "vitest";
import { loadConfig, redactedConfig } from "../../src/config.js";
import { redactUrl } from "../../src/redact-url.js";

describe("redactUrl", () => {
  it.each([
    ["amqp://guest:s3cret@127.0.0.1:5672/", "amqp://guest:***@127.0.0.1:5672/"],
    ["postgres://postgres:s3cret@db:5432/matchflow", "postgres://postgres:***@db:5432/matchflow"],
    ["postgresql://app:s3cret@db/matchflow?sslmode=require", "postgresql://app:***@db/matchflow?sslmode=require"],
    ["https://api.example.com/feed?api_key=s3cret&page=2", "https://api.example.com/feed?api_key=***&page=2"],
    // A token given as the user name (GitHub, GitLab style), and signed-URL query names.
    ["https://ghp_s3cret@mirror.example/x", "https://***@mirror.example/x"],
    ["https://feeds.example/x?password=s3cret&client_secret=s3cret&page=2", "https://feeds.example/x?password=***&client_secret=***&page=2"],
    ["https://feeds.example/x?TOKEN=s3cret&PASS=s3cret", "https://feeds.example/x?TOKEN=***&PASS=***"],
    ["http://ghp_s3cret@mirror.example/x", "http://***@mirror.example/x"],
    // An "@" in the path after a real password: the host stays.
    ["amqp://user:s3cret@rabbit/v@host", "amqp://user:***@rabbit/v@host"],
    // Not a URL the parser reads (a space in the host): the token user name is still masked.
    ["https://ghp_s3cret@mirror example/x", "https://***@mirror example/x"],
    ["https://bucket.example/feed?X-Amz-Signature=s3cret&sig=s3cret&auth=s3cret&X-Amz-Credential=s3cret&page=2", "https://bucket.example/feed?X-Amz-Signature=***&sig=***&auth=***&X-Amz-Credential=***&page=2"],
  ])("%s -> %s", (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });

  it.each([
    ["amqp://guest@127.0.0.1:5672/"],
    ["postgres://127.0.0.1:5432/matchflow"],
  ])("leaves %s without a password readable", (url) => {
    expect(redactUrl(url)).toBe(url);
  });

  it.each([
    ["amqp://user:p@ss:w0rd@broker:5672/vhost"],
    ["postgres://user:s3cret%40x@db/matchflow"],
    ["not a url //user:s3cret@host/x"],
    ["not a url //user:s3cret@w0rd@host"],
  ])("hides the whole password in %s", (url) => {
    const redacted = redactUrl(url) ?? "";
    expect(redacted).toContain("***");
    for (const fragment of ["s3cret", "p@ss", "ss:w0rd", "w0rd"]) expect(redacted).not.toContain(fragment);
  });

  it("passes undefined through", () => {
    expect(redactUrl(undefined)).toBeUndefined();
  });
});

describe("redactedConfig", () => {
  it("contains no password anywhere, nested or not", () => {
    const config = loadConfig({
      RABBITMQ_URL: "amqp://mf:broker-secret@rabbit:5672/prod",
      RABBITMQ_MANAGEMENT_URL: "http://mf:mgmt-secret@rabbit:15672",
      DATABASE_URL: "postgres://mf:db-secret@pg:5432/matchflow",
    });
    const text = JSON.stringify(redactedConfig(config));
    for (const secret of ["broker-secret", "mgmt-secret", "db-secret"]) expect(text).not.toContain(secret);
    expect(text).toContain("amqp://mf:***@rabbit:5672/prod");
    expect(text).toContain("postgres://mf:***@pg:5432/matchflow");
  });

  it("redacts a feed mirror's password or token (ASSIST_BASE_URL, MODULAR11_BASE_URL), keeping the rest readable", () => {
    const config = loadConfig({ ASSIST_BASE_URL: "https://mirror:assist-secret@feeds.example.com/", MODULAR11_BASE_URL: "https://m11.example.com/?token=m11-secret" });
    const printed = redactedConfig(config) as { scrape: Record<string, unknown> };
    expect(JSON.stringify(printed)).not.toMatch(/assist-secret|m11-secret/);
    expect(printed.scrape).toEqual({ ...config.scrape, assistBaseUrl: "https://mirror:***@feeds.example.com/", modular11BaseUrl: "https://m11.example.com/?token=***" });
  });

  it("says what runs when the URLs are unset", () => {
    const printed = redactedConfig(loadConfig({}));
    expect(printed.rabbitmqUrl).toMatch(/unset/);
    expect(printed.databaseUrl).toMatch(/unset.*PGlite/);
  });

  it("says what WORKER_BATCH_BYTES=auto comes to and where the worker reports the value; a number prints as it is", () => {
    const printed = redactedConfig(loadConfig({})) as { worker: Record<string, unknown> };
    expect(printed.worker.batchBytes).toMatch(/^auto \(.*heap limit.*logs the bytes/);
    expect((redactedConfig(loadConfig({ WORKER_BATCH_BYTES: "1048576" })) as { worker: Record<string, unknown> }).worker.batchBytes).toBe(1_048_576);
  });

  it("keeps every other setting", () => {
    const config = loadConfig({});
    const printed = redactedConfig(config);
    expect(printed.topology).toEqual(config.topology);
    expect(printed.retry).toEqual(config.retry);
    expect({ ...(printed.worker as object), batchBytes: config.worker.batchBytes }).toEqual(config.worker);
  });
});

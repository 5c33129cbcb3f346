/** Log lines are JSON with time, level label, msg and context; credentials never appear. */
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, silentLogger } from "../../src/log.js";

/** A destination that keeps every line written to it (pino writes one line per call). */
function memoryLog(level = "info") {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      lines.push(...String(chunk).split("\n").filter((l) => l !== ""));
      done();
    },
  });
  const log = createLogger({ level, destination, name: "matchflow-test" });
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, lines, records };
}

describe("log line format", () => {
  it("is one JSON object per line with ISO time, level label, msg and context fields", () => {
    const { log, lines, records } = memoryLog();
    log.info({ queue: "matches", published: 12 }, "published matches");
    expect(lines).toHaveLength(1);
    const [record] = records();
    expect(record).toMatchObject({ level: "info", msg: "published matches", queue: "matches", published: 12, name: "matchflow-test", pid: process.pid });
    expect(record?.time).toEqual(expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/));
    expect(Number.isNaN(Date.parse(String(record?.time)))).toBe(false);
  });

  it("keeps child logger bindings as context", () => {
    const { log, records } = memoryLog();
    log.child({ worker: 3 }).warn({ task_id: "abc" }, "retrying");
    expect(records()[0]).toMatchObject({ level: "warn", worker: 3, task_id: "abc", msg: "retrying" });
  });

  it("writes level names, not numbers, for every level", () => {
    const { log, records } = memoryLog("trace");
    log.trace("t");
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    log.fatal("f");
    expect(records().map((r) => r.level)).toEqual(["trace", "debug", "info", "warn", "error", "fatal"]);
  });

  it("respects the level", () => {
    const { log, records } = memoryLog("warn");
    log.info("hidden");
    log.debug("hidden");
    log.error("shown");
    expect(records().map((r) => r.msg)).toEqual(["shown"]);
  });

  it("serialises errors with type, message and stack", () => {
    const { log, records } = memoryLog();
    log.error({ err: new Error("broker went away") }, "publish failed");
    expect(records()[0]?.err).toMatchObject({ type: "Error", message: "broker went away", stack: expect.stringContaining("broker went away") as unknown });
  });

  it("silentLogger writes nothing and does not throw", () => {
    expect(() => silentLogger.error({ password: "x" }, "nothing")).not.toThrow();
    expect(silentLogger.level).toBe("silent");
  });
});

describe("credential censoring", () => {
  it("masks the password in URL-like fields, top level and nested, keeping the rest readable", () => {
    const { log, lines, records } = memoryLog();
    log.info(
      {
        url: "amqp://guest:hunter2@127.0.0.1:5672/vhost",
        rabbitmqUrl: "amqps://mf:hunter2@rabbit/",
        config: { databaseUrl: "postgres://mf:hunter2@pg:5432/matchflow", rabbitmqManagementUrl: "http://mf:hunter2@rabbit:15672" },
        source: { url: "https://feed.example.com/x?token=hunter2" },
      },
      "connecting",
    );
    expect(lines.join("\n")).not.toContain("hunter2");
    const [record] = records();
    expect(record?.url).toBe("amqp://guest:***@127.0.0.1:5672/vhost");
    expect(record?.rabbitmqUrl).toBe("amqps://mf:***@rabbit/");
    expect(record?.config).toMatchObject({ databaseUrl: "postgres://mf:***@pg:5432/matchflow" });
  });

  it("replaces credential fields entirely", () => {
    const { log, lines, records } = memoryLog();
    log.info({ password: "hunter2", headers: { authorization: "Bearer hunter2" }, db: { password: "hunter2" }, token: "hunter2" }, "auth");
    expect(lines.join("\n")).not.toContain("hunter2");
    expect(records()[0]).toMatchObject({ password: "***", headers: { authorization: "***" }, db: { password: "***" }, token: "***" });
  });

  it("leaves URLs without credentials untouched", () => {
    const { log, records } = memoryLog();
    log.info({ url: "http://127.0.0.1:15672/api/queues" }, "polling");
    expect(records()[0]?.url).toBe("http://127.0.0.1:15672/api/queues");
  });
});

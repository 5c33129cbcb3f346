/** The worker's report of fields outside MatchData v1: every one counted, each name's first sighting logged, bounded. */
import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { UnknownFieldsLog } from "../../src/worker/unknown-fields-log.js";

function setUp() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const counted: string[] = [];
  const report = new UnknownFieldsLog({ log: pino({ level: "info" }, stream), counter: { inc: ({ field }) => void counted.push(field) } });
  return { report, lines, counted };
}

describe("UnknownFieldsLog", () => {
  it("counts every field of every task and logs a name once, with the first task that carried it", () => {
    const { report, lines, counted } = setUp();
    report.seen(["referee"], "t1", "m1");
    report.seen(["referee", "weather"], "t2", "m2");
    report.seen(["weather", "referee"], "t3", "m3");
    expect(counted).toEqual(["referee", "referee", "weather", "weather", "referee"]);
    expect(lines.map((l) => [l.level, l.taskId, l.externalMatchId, l.fields])).toEqual([
      [40, "t1", "m1", ["referee"]],
      [40, "t2", "m2", ["weather"]],
    ]);
  });

  it("names at most 100 fields a process, each cut to 100 characters (the names are the producer's)", () => {
    const { report, lines, counted } = setUp();
    const many = Array.from({ length: 150 }, (_, i) => `f${i}_${"x".repeat(300)}`);
    report.seen(many, "t1", "m1");
    report.seen(["another"], "t2", "m2");
    expect(counted).toHaveLength(151);
    expect(lines).toHaveLength(1);
    const fields = lines[0]?.fields as string[];
    expect(fields).toHaveLength(100);
    expect(fields.every((f) => Array.from(f).length === 100)).toBe(true);
  });
});

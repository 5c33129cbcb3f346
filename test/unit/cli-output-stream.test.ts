import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { guardOutput } from "../../src/cli/output-stream.js";

/** A stream whose writes fail with `code` (as a pipe whose reader left fails with EPIPE). */
function failing(code: string): { stream: Writable; written: string[] } {
  const written: string[] = [];
  const stream = new Writable({
    highWaterMark: 4,
    write(chunk: Buffer, _enc, done) {
      written.push(chunk.toString());
      done(Object.assign(new Error(`write ${code}`), { code }));
    },
  });
  return { stream, written };
}

describe("guardOutput", () => {
  it("a reader gone (EPIPE) closes the output quietly: later writes are dropped", async () => {
    const { stream, written } = failing("EPIPE");
    const out = guardOutput(stream);
    await out.write("first line\n");
    expect(out.closed).toBe(true);
    await out.write("second line\n");
    out.writeNow("third line\n");
    expect(written).toEqual(["first line\n"]);
  });

  it("another write error fails the next write", async () => {
    const { stream } = failing("EIO");
    const out = guardOutput(stream);
    await expect(out.write("a line\n")).rejects.toThrow("write EIO");
    expect(out.closed).toBe(false);
  });
});

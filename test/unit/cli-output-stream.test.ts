import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { EXIT, exitCodeFor } from "../../src/cli/exit-codes.js";
import { guardOutput, OutputError, outputFailure, quietWhenReaderGoes } from "../../src/cli/output-stream.js";

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

describe("a write error other than the reader going away (a full disk)", () => {
  it("fails a guarded output's next write with one line to say and exit 74, not Node's raw error (exit 70)", async () => {
    const { stream } = failing("ENOSPC");
    const out = guardOutput(stream);
    const failure = await out.write("a line\n").then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(OutputError);
    expect((failure as Error).message).toBe("cannot write the output: write ENOSPC");
    expect(exitCodeFor(failure)).toBe(EXIT.output);
    expect(EXIT.output).toBe(74);
    // Printing whole text later drops it instead of throwing: the command's work goes on.
    expect(() => out.writeNow("more\n")).not.toThrow();
    expect(await outputFailure(stream)).toBe(failure);
  });

  it("is remembered on any stream the process watches, not thrown from its 'error' listener (a crash with a stack trace)", async () => {
    const { stream } = failing("ENOSPC");
    quietWhenReaderGoes(stream);
    stream.write("the whole listing\n");
    const failure = await outputFailure(stream);
    expect(failure).toBeInstanceOf(OutputError);
    expect(failure?.message).toBe("cannot write the output: write ENOSPC");
  });

  it("a reader gone (EPIPE) stays no failure: the output just ends", async () => {
    const { stream } = failing("EPIPE");
    quietWhenReaderGoes(stream);
    stream.write("first line\n");
    expect(await outputFailure(stream)).toBeUndefined();
  });
});

/**
 * Celery's message compression (`task_compression`, `send_task(..., compression=...)`): kombu
 * serialises the body, compresses the bytes and names the method in the `compression` header
 * (a MIME type; the content type and encoding stay those of the JSON). Without this, every task
 * of a Celery producer configured to compress was malformed JSON to the worker. Pure.
 *
 * Node's zlib covers kombu's default method (`zlib`, alias `gzip`: header `application/x-gzip`,
 * a zlib stream) and brotli; bz2, lzma, zstd and snappy would need native libraries and are
 * refused by name. Output is bounded like any body (`MAX_MESSAGE_BYTES`), so a small
 * compressed message cannot expand into a memory bomb.
 */
import { brotliDecompressSync, unzipSync } from "node:zlib";
import { PermanentError } from "../errors.js";

/** The header kombu names the compression in. A body re-encoded by matchflow is not compressed. */
export const COMPRESSION_HEADER = "compression";

type Decompress = (body: Buffer, options: { maxOutputLength: number }) => Buffer;

/** By kombu's MIME type (the header never carries its short aliases: `zlib`, `gzip`, ...). */
const DECOMPRESSORS: ReadonlyMap<string, Decompress> = new Map<string, Decompress>([
  // `unzip` reads both a zlib stream (what kombu's zlib.compress writes) and a gzip one.
  ["application/x-gzip", unzipSync],
  ["application/x-brotli", brotliDecompressSync],
]);

/** `body` as kombu serialised it, before compression; `method` is the `compression` header. */
export function decompressBody(body: Buffer, method: unknown, maxBytes: number): Buffer {
  const name = typeof method === "string" ? method.trim().toLowerCase() : undefined;
  const decompress = name === undefined ? undefined : DECOMPRESSORS.get(name);
  if (!decompress) {
    throw new PermanentError(
      "unsupported_compression",
      `compression ${JSON.stringify(method)} is not supported (application/x-gzip, i.e. Celery's zlib/gzip, and application/x-brotli are)`,
    );
  }
  try {
    return decompress(body, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
      throw new PermanentError("message_too_large", `message body decompressed (${String(method)}) is over the ${maxBytes}-byte limit`, { cause: err });
    }
    throw new PermanentError("malformed_message", `message body is not valid ${String(method)} data (${(err as Error).message})`, { cause: err });
  }
}

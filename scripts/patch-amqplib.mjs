// Teaches amqplib's field-table decoder the `L` tag (signed 64-bit integer), which py-amqp, Python
// Celery's client, writes for every integer beyond 32 bits in a header. amqplib 2.3.1 knows only
// `l`: one such header from a Celery producer closed the worker's connection ("Unexpected type tag
// L"), and the message, redelivered, closed it again and again. Run on install (npm's postinstall,
// the Dockerfile); a no-op once applied, and a failure when amqplib's decoder no longer looks as
// expected, so that an upgrade is checked, not silently left unpatched.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import process from "node:process";

// lib/codec.js is not among amqplib's exports: found beside its entry point (channel_api.js).
const file = join(dirname(createRequire(import.meta.url).resolve("amqplib")), "lib", "codec.js");
const source = readFileSync(file, "utf8");
const MARK = "case 'L': // matchflow";
const ANCHOR = "      case 'l':\n        val = Number(slice.readBigInt64BE(offset));\n        offset += 8;\n        break;\n";
if (!source.includes(MARK)) {
  if (source.split(ANCHOR).length !== 2) {
    process.stderr.write(`patch-amqplib: ${file} is not the decoder this patch expects; check whether amqplib reads the 'L' field type now and update scripts/patch-amqplib.mjs\n`);
    process.exit(1);
  }
  writeFileSync(file, source.replace(ANCHOR, `${ANCHOR}      ${MARK} py-amqp's signed 64-bit integer\n        val = Number(slice.readBigInt64BE(offset));\n        offset += 8;\n        break;\n`));
}

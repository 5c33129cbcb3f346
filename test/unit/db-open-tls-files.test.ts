import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/errors.js";
import { checkTlsFiles, openDatabase } from "../../src/db/open.js";

describe("DATABASE_URL's TLS files", () => {
  it("a missing sslrootcert is a ConfigError naming the parameter and the file, before any connection (it was 'database unreachable', waited for forever)", async () => {
    // Port 1: nothing listens, so only the file check can give a ConfigError.
    const url = "postgres://postgres@127.0.0.1:1/test?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem";
    const err: unknown = await openDatabase(url).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect(String(err)).toMatch(/DATABASE_URL's sslrootcert "\/nonexistent\/ca.pem" cannot be read \(ENOENT\)/);
  });

  it("names sslcert and sslkey too, and passes readable files and URLs without them", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "mf-tls-"));
    try {
      const cert = path.join(dir, "client.pem");
      writeFileSync(cert, "-----BEGIN CERTIFICATE-----\n");
      expect(() => checkTlsFiles(`postgres://u@h/db?sslcert=${encodeURIComponent(cert)}&sslkey=${encodeURIComponent(path.join(dir, "none.key"))}`)).toThrow(/sslkey ".*none\.key" cannot be read \(ENOENT\)/);
      expect(() => checkTlsFiles(`postgres://u@h/db?sslcert=${encodeURIComponent(cert)}`)).not.toThrow();
      expect(() => checkTlsFiles("postgres://u@h/db?sslmode=require")).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

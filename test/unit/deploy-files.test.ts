/**
 * Checks on committed files that need no rendering: the Dockerfile and .dockerignore, and that
 * every YAML file under deploy/ parses.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { REPO_ROOT } from "../../scripts/validate-deploy.js";

describe("Dockerfile", () => {
  const dockerfile = readFileSync(path.join(REPO_ROOT, "Dockerfile"), "utf8");
  const lines = dockerfile.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));
  const stages = lines.reduce<string[][]>((acc, line) => {
    if (/^FROM\s/i.test(line)) acc.push([]);
    acc.at(-1)?.push(line);
    return acc;
  }, []);
  const runtime = stages.at(-1) ?? [];

  it("is multi-stage and the runtime stage runs as a numeric non-root user", () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const users = runtime.filter((l) => /^USER\s/i.test(l));
    expect(users).toHaveLength(1);
    const uid = Number(/^USER\s+(\d+)/i.exec(users[0] ?? "")?.[1]);
    expect(uid).toBeGreaterThan(0);
  });

  it("installs production dependencies only in the runtime stage and copies what the CLI needs", () => {
    expect(runtime.some((l) => /npm ci\b.*--omit=dev/.test(l))).toBe(true);
    expect(runtime.some((l) => /npm (install|i)\b/.test(l))).toBe(false);
    for (const dir of ["dist", "migrations", "schema", "samples"]) expect(runtime.some((l) => new RegExp(`^COPY\\b.*\\b${dir}\\b`).test(l)), dir).toBe(true);
    expect(runtime.find((l) => /^ENTRYPOINT/.test(l))).toContain("dist/cli/main.js");
  });

  it("applies the amqplib patch after the runtime stage's install (--ignore-scripts skips postinstall), with the script in the build context", () => {
    const install = runtime.findIndex((l) => /npm ci\b/.test(l));
    expect(runtime[install]).toMatch(/npm ci\b.*&& node scripts\/patch-amqplib\.mjs/);
    expect(runtime.slice(0, install).some((l) => /^COPY\s+scripts\/patch-amqplib\.mjs\b/.test(l))).toBe(true);
    const ignored = readFileSync(path.join(REPO_ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim());
    expect(ignored.indexOf("!scripts/patch-amqplib.mjs")).toBeGreaterThan(ignored.indexOf("scripts"));
  });

  it(".dockerignore keeps secrets, node_modules and git out of the build context", () => {
    const ignored = readFileSync(path.join(REPO_ROOT, ".dockerignore"), "utf8").split("\n").map((l) => l.trim());
    for (const p of [".git", "node_modules", "**/secrets/*.env", ".env"]) expect(ignored).toContain(p);
  });
});

describe("deploy/ YAML", () => {
  it("every committed YAML file parses", () => {
    const out = execFileSync("git", ["ls-files", "deploy"], { cwd: REPO_ROOT, encoding: "utf8" }).split("\n").filter((f) => /\.ya?ml$/.test(f));
    expect(out.length).toBeGreaterThan(10);
    for (const f of out) {
      const text = readFileSync(path.join(REPO_ROOT, f), "utf8");
      for (const doc of text.split(/^---$/m)) expect(() => parseYaml(doc) as unknown, f).not.toThrow();
    }
  });
});

import { describe, expect, it } from "vitest";
import { formatRevoke, formatWorkers, workerRows } from "../../src/ops/celery-workers-report.js";

// What `inspect stats` returns: matchflow's worker (celery/control.ts) and a Celery 5 worker.
const matchflowStats = { pid: 7, uptime: 3725, total: { "celery_tasks.match_tasks.process_match_data": 120_331 }, pool: { "max-concurrency": 4 }, sw_ident: "matchflow", sw_ver: "0.1.0" };
const celeryStats = { pid: 9, uptime: 42, total: { "a.b": 2, "c.d": 3 }, pool: { "max-concurrency": 2, processes: [10, 11] }, prefetch_count: 8, rusage: {} };

describe("matchflow workers", () => {
  it("reads matchflow's and Celery's stats alike, sorted by node; what a reply lacks is shown as -", () => {
    const rows = workerRows(new Map<string, unknown>([["matchflow.7@pod-b", matchflowStats], ["celery@host", celeryStats], ["odd@x", "not stats"]]));
    expect(rows).toEqual([
      { node: "celery@host", software: "celery", pid: 9, uptimeS: 42, processed: 5, concurrency: 2 },
      { node: "matchflow.7@pod-b", software: "matchflow 0.1.0", pid: 7, uptimeS: 3725, processed: 120_331, concurrency: 4 },
      { node: "odd@x", software: "celery", pid: null, uptimeS: null, processed: null, concurrency: null },
    ]);
    expect(formatWorkers(rows, 1000)).toBe(
      [
        "node               software         pid  uptime  processed  concurrency",
        "celery@host        celery             9     42s          5            2",
        "matchflow.7@pod-b  matchflow 0.1.0    7   1h 2m    120,331            4",
        "odd@x              celery             -       -          -            -",
        "3 workers answered",
        "",
      ].join("\n"),
    );
  });

  it("escapes control characters in what workers replied (any client on the vhost may reply): no terminal escape reaches the screen", () => {
    const hostile = workerRows(new Map<string, unknown>([["evil\u001b]0;owned\u0007@x", { sw_ident: "\u001b[2Jmatchflow", sw_ver: "1\u202e" }]]));
    const out = formatWorkers(hostile, 1000);
    const unsafe = (text: string) => [...text].filter((c) => c !== "\n" && ((c.codePointAt(0) ?? 0) < 0x20 || c === "\u007f" || c === "\u202e"));
    expect(unsafe(out)).toEqual([]);
    expect(out).toContain("evil\\x1b]0;owned\\x07@x");
    const revoke = formatRevoke(new Map<string, unknown>([["n@x", { error: "\u001b[31mred" }], ["m@x", { ok: "ok\u001b[0m" }]]), ["t-1"], 1000, { stored: true });
    expect(unsafe(revoke.text)).toEqual([]);
  });

  it("says why the list is empty", () => {
    expect(formatWorkers([], 1500)).toBe("no worker answered within 1.5 s (matchflow workers answer with CELERY_CONTROL=inspect or control; Celery workers always do)\n");
  });

  it("with --destination, an empty list names the nodes asked (escaped), not the whole vhost", () => {
    expect(formatWorkers([], 1000, ["w1@a", "w2@b\u001b[2J"])).toBe("no named worker (w1@a, w2@b\\x1b[2J) answered within 1 s (matchflow workers answer with CELERY_CONTROL=inspect or control; Celery workers always do)\n");
    expect(formatWorkers([], 1000, [])).toMatch(/^no worker answered/);
  });
});

describe("matchflow revoke", () => {
  const stored = { stored: true } as const;
  const notStored = { stored: false, reason: "DATABASE_URL is not set" } as const;

  it("prints each worker's answer, whether the database took the ids, and counts the workers that flagged them", () => {
    const replies = new Map<string, unknown>([
      ["matchflow.2@b", { error: "revoke is obeyed with CELERY_CONTROL=control" }],
      ["matchflow.1@a", { ok: "tasks t-1 flagged as revoked" }],
      ["celery@c", { ok: "tasks t-1 flagged as revoked" }],
    ]);
    const report = formatRevoke(replies, ["t-1"], 2000, stored);
    expect(report).toMatchObject({ obeyed: 2, effective: true });
    expect(report.text.split("\n")).toEqual([
      "celery@c: tasks t-1 flagged as revoked",
      "matchflow.1@a: tasks t-1 flagged as revoked",
      "matchflow.2@b: ERROR revoke is obeyed with CELERY_CONTROL=control",
      "written to the database (celery_revoked): matchflow workers read it there, running ones within 10 s, those that start within 3 hours at start-up",
      expect.stringMatching(/^2 workers flagged 1 task as revoked: a worker that receives one dead-letters it as task_revoked .*from these and from the database\)$/) as string,
      "",
    ]);
    expect(formatRevoke(replies, ["t-1"], 2000, notStored).text).toContain("not written to the database: DATABASE_URL is not set\n2 workers flagged");
  });

  it("says when no worker obeyed, and when none answered; effective only when a worker or the database took the ids", () => {
    const refused = formatRevoke(new Map([["matchflow.2@b", { error: "no" }]]), ["a", "b"], 2000, notStored);
    expect(refused).toMatchObject({ obeyed: 0, effective: false, text: expect.stringContaining("no worker flagged 2 tasks as revoked: matchflow workers obey revoke with CELERY_CONTROL=control\n") as string });
    expect(formatRevoke(new Map(), ["a"], 2000, notStored)).toMatchObject({ obeyed: 0, effective: false, text: expect.stringMatching(/\nno worker answered within 2 s: nothing revoked/) as string });
    const later = formatRevoke(new Map(), ["a", "b"], 2000, stored);
    expect(later).toMatchObject({ obeyed: 0, effective: true });
    expect(later.text.split("\n")).toEqual([
      "written to the database (celery_revoked): matchflow workers read them there, running ones within 10 s, those that start within 3 hours at start-up",
      "no worker answered within 2 s (matchflow workers obey revoke with CELERY_CONTROL=control; Celery workers always do)",
      "",
    ]);
  });
});

/**
 * The management API's answer is read up to a bound: `queue status` held whatever came within
 * its 5 s timeout (an endless answer from a wrong URL, a proxy or a hostile server took it past
 * 1 GB of resident memory on localhost). Over the bound it is `management_unavailable`, so the
 * figures are read over AMQP, as for any other unusable answer.
 */
import type { ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import { fetchManagementQueue, fetchManagementQueueNames, managementTarget, MAX_MANAGEMENT_ANSWER_BYTES } from "../../src/ops/management-api.js";
import { useLocalServer } from "../helpers/local-http.js";

const MiB = 1024 * 1024;
let sent = 0;

/** Writes `total` bytes of a JSON string, 1 MiB at a time, as fast as the client reads them. */
function endless(res: ServerResponse, total: number): void {
  res.writeHead(200, { "content-type": "application/json" });
  const chunk = Buffer.alloc(MiB, 0x61);
  let left = total;
  res.write('"');
  const pump = (): void => {
    while (left > 0) {
      left -= MiB;
      sent += MiB;
      if (!res.write(chunk)) return void res.once("drain", pump);
    }
    res.end('"');
  };
  res.on("error", () => undefined);
  pump();
}

const base = useLocalServer((req, res) => {
  if (req.url?.startsWith("/api/queues/v?")) return endless(res, 200 * MiB);
  if (req.url === "/api/queues/v/matches") return endless(res, 200 * MiB);
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ messages_ready: 1, messages_unacknowledged: 0, consumers: 1 }));
});

describe("a management API answer larger than any real one", () => {
  it("is management_unavailable naming the bound, read no further than it", async () => {
    sent = 0;
    const target = managementTarget(base(), "amqp://app:pw@rabbit/v");
    await expect(fetchManagementQueueNames(target, 30_000)).rejects.toMatchObject({
      code: "management_unavailable",
      message: `management API at ${base()}/api answered more than ${MAX_MANAGEMENT_ANSWER_BYTES / MiB} MiB: not the management API's answer (is RABBITMQ_MANAGEMENT_URL the management API, not a download or a proxy in front of it?)`,
    });
    // The server filled the socket buffers ahead of the reader, no more.
    expect(sent).toBeLessThan(MAX_MANAGEMENT_ANSWER_BYTES + 32 * MiB);
  });

  it("for one queue too", async () => {
    const target = managementTarget(base(), "amqp://app:pw@rabbit/v");
    await expect(fetchManagementQueue(target, "matches", 30_000)).rejects.toMatchObject({ code: "management_unavailable", message: expect.stringContaining(`answered more than ${MAX_MANAGEMENT_ANSWER_BYTES / MiB} MiB`) as unknown });
  });

  it("while an answer of real size is read as before", async () => {
    const target = managementTarget(base(), "amqp://app:pw@rabbit/v");
    await expect(fetchManagementQueue(target, "other", 30_000)).resolves.toMatchObject({ ready: 1, unacked: 0, consumers: 1 });
  });
});

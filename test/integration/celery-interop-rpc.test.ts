/**
 * Results for Python callers: a Celery client with the rpc:// backend sends a task; we decode it
 * and publish encodeRpcResult to its reply_to; `AsyncResult.get()` returns our value (SUCCESS)
 * or raises the exception we described (FAILURE).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type ChannelModel, type GetMessage } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { declareTopology, topologyNames } from "../../src/broker/topology.js";
import { decodeTask } from "../../src/celery/codec.js";
import { encodeRpcResult, type RpcResultInput } from "../../src/celery/result.js";
import { loadConfig } from "../../src/config.js";
import { silentLogger } from "../../src/log.js";
import { createVhost, type TestVhost } from "../helpers/rabbit.js";
import { INTEROP_DIR, PYTHON } from "../interop/celery-process.js";

const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);
const dir = mkdtempSync(join(tmpdir(), "mf-rpc-"));
let vhost: TestVhost;
let model: ChannelModel;

beforeAll(async () => {
  vhost = await createVhost("rpc");
  model = await connect(vhost.url);
  await declareTopology(model, names, { queueType: "classic", log: silentLogger });
  writeFileSync(join(dir, "match.json"), JSON.stringify({ home_team: "H", away_team: "A", match_date: "2025-09-06", age_group: "U14", match_type: "League" }));
});

afterAll(async () => {
  await model?.close().catch(() => undefined);
  await vhost?.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs rpc_client.py, answers its task with `answer`, returns what Python got. */
async function roundTrip(answer: (taskId: string) => RpcResultInput): Promise<Record<string, unknown>> {
  const child = spawn(PYTHON, ["rpc_client.py", vhost.url, join(dir, "match.json")], { cwd: INTEROP_DIR, env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  try {
    const firstLine = new Promise<string>((resolve) => {
      child.stdout.on("data", (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes("\n")) resolve(stdout.split("\n")[0]!);
      });
    });
    const taskId = await Promise.race([firstLine, exited.then(() => Promise.reject(new Error(`rpc_client.py exited early: ${stderr}`)))]);
    const ch = await model.createConfirmChannel();
    let msg: GetMessage | false = false;
    for (let i = 0; i < 400 && !msg; i++) {
      msg = await ch.get(names.queue, { noAck: true });
      if (!msg) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    if (!msg) throw new Error("the task never reached the queue");
    const env = decodeTask(msg.content, msg.properties, { maxBytes: config.maxMessageBytes });
    expect(env.taskId).toBe(taskId);
    expect(env.replyTo).toBeTruthy();
    const reply = encodeRpcResult(answer(env.taskId));
    ch.publish("", env.replyTo!, reply.content, reply.properties);
    await ch.waitForConfirms();
    await ch.close();
    const code = await exited;
    if (code !== 0) throw new Error(`rpc_client.py exited ${code}: ${stderr}`);
    return JSON.parse(stdout.trim().split("\n")[1] ?? "null") as Record<string, unknown>;
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
}

describe("rpc:// results read by Python Celery", () => {
  it("AsyncResult.get() returns our SUCCESS value", async () => {
    const got = await roundTrip((taskId) => ({ taskId, status: "SUCCESS", result: { status: "inserted", match_id: 42 }, dateDone: new Date() }));
    expect(got).toEqual({ ok: true, result: { status: "inserted", match_id: 42 }, state: "SUCCESS" });
  });

  it("AsyncResult.get() raises the exception our FAILURE describes", async () => {
    const got = await roundTrip((taskId) => ({
      taskId,
      status: "FAILURE",
      result: { exc_type: "ValueError", exc_message: ["home_team is required"], exc_module: "builtins" },
      traceback: "Traceback (matchflow worker)",
      dateDone: new Date(),
    }));
    expect(got).toEqual({ ok: false, exc_type: "ValueError", exc_message: "home_team is required", state: "FAILURE" });
  });
});

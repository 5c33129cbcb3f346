/**
 * Task results for Celery's rpc:// backend: the worker publishes one message to the default
 * exchange with routing key = the task's `reply_to` and correlation id = the task id; a Python
 * `AsyncResult.get()` then reads it. Pure: builds the message, does not send it.
 */
import type { EncodedMessage } from "./codec.js";
import { pythonJsonDumps } from "./python-text.js";

export interface RpcFailure {
  exc_type: string;
  /** Celery sends the exception's args (a list); a plain string is read too. */
  exc_message: string | unknown[];
  exc_module: string;
}

export type RpcResultInput =
  | { taskId: string; status: "SUCCESS"; result: unknown; traceback?: string | null; dateDone: Date | string }
  | { taskId: string; status: "FAILURE" | "REVOKED"; result: RpcFailure; traceback?: string | null; dateDone: Date | string };

/**
 * What Celery's worker stores for a task it did not run because it had expired or was revoked
 * (`Request.revoked` -> `mark_as_revoked`): state REVOKED with a TaskRevokedError('expired' or
 * 'revoked'), which the caller's `AsyncResult.get()` raises as `celery.exceptions.TaskRevokedError`.
 */
export function revokedResult(reason: "expired" | "revoked"): { status: "REVOKED"; result: RpcFailure } {
  return { status: "REVOKED", result: { exc_type: "TaskRevokedError", exc_message: [reason], exc_module: "celery.exceptions" } };
}

/** Celery writes `date_done` as a naive-looking ISO string in UTC (`datetime.isoformat()`). */
function isoDate(value: Date | string): string {
  return typeof value === "string" ? value : value.toISOString().replace(/Z$/, "");
}

export function encodeRpcResult(input: RpcResultInput): EncodedMessage {
  // Key order of Celery 5.2's rpc backend (`_to_result`); later versions add date_done.
  const body = {
    task_id: input.taskId,
    status: input.status,
    result: input.result,
    traceback: input.traceback ?? null,
    children: [],
    date_done: isoDate(input.dateDone),
  };
  return {
    content: Buffer.from(pythonJsonDumps(body), "utf8"),
    properties: {
      contentType: "application/json",
      contentEncoding: "utf-8",
      correlationId: input.taskId,
      // Celery's rpc backend sends results transient unless result_persistent is set.
      deliveryMode: 1,
      priority: 0,
      headers: {},
    },
  };
}

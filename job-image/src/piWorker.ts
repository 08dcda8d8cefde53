/**
 * Entry point of a pool thread: runs one {@link Task} per message and answers with its result or
 * its error message. Never started directly; see `workerPool.ts`.
 */
import { parentPort } from "node:worker_threads";
import { runTask, Task } from "./tasks";

/** A request from the pool. */
export interface TaskRequest {
  id: number;
  task: Task;
}

/** The answer to a {@link TaskRequest}. */
export type TaskResponse =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

if (!parentPort) {
  throw new Error("piWorker.js runs only as a worker thread of WorkerPool");
}
const port = parentPort;

port.on("message", ({ id, task }: TaskRequest) => {
  let response: TaskResponse;
  try {
    response = { id, ok: true, result: runTask(task) };
  } catch (error) {
    response = { id, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(response);
});

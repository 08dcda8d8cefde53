/**
 * The AWS emulator (moto) for end-to-end tests over real HTTP. Started once per mocha process on
 * the first `startMoto()`; at the end of each spec file the root hook calls {@link releaseMoto}:
 * a mocha worker keeps it for its next file, emptied (starting moto costs seconds of CPU), any
 * other process stops it. Missing moto is a failure, never a skip.
 */
import { ChildProcess, spawn } from "node:child_process";
import * as net from "node:net";
import * as path from "node:path";

let server: { process: ChildProcess; endpoint: string } | undefined;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address() as net.AddressInfo;
      probe.close(() => resolve(address.port));
    });
  });
}

async function waitUntilUp(
  endpoint: string,
  child: ChildProcess,
  timeoutMs: number,
): Promise<void> {
  const started = Date.now();
  let exited: number | null = null;
  child.once("exit", (code) => (exited = code ?? -1));
  while (Date.now() - started < timeoutMs) {
    if (exited !== null) {
      throw new Error(
        `moto exited with code ${exited}; install it with "pip install 'moto[server]'" (the AWS emulator the end-to-end tests use; python3 -m moto.server must start)`,
      );
    }
    try {
      const response = await fetch(`${endpoint}/moto-api/`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`moto did not answer on ${endpoint} within ${timeoutMs} ms`);
}

let starting: Promise<string> | undefined;

/**
 * Starts moto if it is not running and returns its endpoint, e.g. `http://127.0.0.1:5123`.
 * Callers at the same time share one start.
 */
export function startMoto(): Promise<string> {
  if (server) return Promise.resolve(server.endpoint);
  starting ??= spawnMoto().finally(() => (starting = undefined));
  return starting;
}

async function spawnMoto(): Promise<string> {
  const port = await freePort();
  // moto's server, which exits when its stdin closes: when this process ends, however it ends.
  const child = spawn("python3", ["-c", MOTO_SERVER, "-H", "127.0.0.1", "-p", String(port)], {
    stdio: ["pipe", "ignore", "pipe"],
    env: { ...process.env, MOTO_AMIS_PATH: MOTO_AMIS },
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilUp(endpoint, child, 15000);
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`${(error as Error).message}\n${stderr}`);
  }
  server = { process: child, endpoint };
  if (IN_MOCHA_WORKER) {
    // Kept between spec files: it must not keep the worker alive.
    child.unref();
    (child.stdin as unknown as { unref?(): void } | null)?.unref?.();
    (child.stderr as unknown as { unref?(): void } | null)?.unref?.();
    process.once("exit", () => child.kill("SIGKILL"));
  }
  return endpoint;
}

/**
 * The images moto's EC2 offers, in every region: one Amazon Linux 2023 AMI from moto's own list,
 * instead of the 1,100 it loads by default. Tests need an image to launch, never a particular
 * one; the default list costs seconds on every first EC2 call after a reset, and a
 * `DescribeImages` of it seconds more (a megabyte of XML).
 */
const MOTO_AMIS = path.join(__dirname, "motoAmis.json");

/** Whether this is one of the worker processes of `mocha --parallel`. */
const IN_MOCHA_WORKER = process.env.MOCHA_WORKER_ID !== undefined;

/** `python3 -m moto.server`, ended when its stdin reaches end of file. */
const MOTO_SERVER = `
import os, sys, threading
def watch():
    sys.stdin.buffer.read()
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
from moto.server import main
main(sys.argv[1:])
`;

/** Clears every resource moto holds, so each test starts from an empty account. */
export async function resetMoto(): Promise<void> {
  if (!server) throw new Error("moto is not running; call startMoto() first");
  const response = await fetch(`${server.endpoint}/moto-api/reset`, { method: "POST" });
  if (!response.ok) throw new Error(`moto reset failed: HTTP ${response.status}`);
}

/** Fake credentials and region for SDK clients pointed at moto. */
export const MOTO_CLIENT_CONFIG = {
  region: "eu-west-1",
  credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
} as const;

/**
 * The end of a spec file: in a mocha worker, moto is emptied and kept for the worker's next file
 * (which then starts from an empty account, as with a fresh moto); otherwise it is stopped.
 */
export async function releaseMoto(): Promise<void> {
  if (server && IN_MOCHA_WORKER && server.process.exitCode === null) await resetMoto();
  else await stopMoto();
}

/** Stops moto if this process started it. */
export async function stopMoto(): Promise<void> {
  if (!server) return;
  const { process: child } = server;
  server = undefined;
  await new Promise<void>((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
    setTimeout(() => {
      child.kill("SIGKILL");
      resolve();
    }, 3000).unref();
  });
}

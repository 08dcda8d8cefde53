/**
 * Program evaluations (and builds, {@link oncePerRun}) shared by the processes of one `npm test` run. Mocha runs spec files in
 * two worker processes; without this, each would evaluate the same stacks again (a few CPU
 * seconds each). The root hook in tests/setup.ts creates a directory for the run and names it in
 * {@link EVALUATIONS_DIR_ENV}; the first process that needs an evaluation claims it with a lock
 * file, evaluates and stores the result, and any other process waits for it and reads it. Without
 * the variable (a script run outside mocha), every evaluation is computed in-process.
 *
 * Evaluations are data, except for Pulumi assets (the Lambda code archives), whose contents are
 * promises: they are stored resolved and rebuilt as the same asset classes. Anything else that is
 * not plain data fails the store loudly, so a cached evaluation is never silently different.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as v8 from "node:v8";
import type * as Pulumi from "@pulumi/pulumi";

/** Pulumi's asset classes; loaded only when an evaluation is stored or read (tests/setup.ts
 * imports this module in every process, the unit tier included). */
type Assets = typeof Pulumi.asset;

/** The environment variable naming the run's directory of stored evaluations. */
export const EVALUATIONS_DIR_ENV = "TJ_TEST_EVALUATIONS_DIR";

const ASSET = "\u0000pulumi-asset";

type Packed = unknown;

/** A copy of `value` with every Pulumi asset replaced by its resolved contents. */
async function pack(
  asset: Assets,
  value: unknown,
  seen = new Map<object, Packed>(),
): Promise<Packed> {
  if (value === null || typeof value !== "object") {
    if (typeof value === "function" || typeof value === "symbol") {
      throw new Error(`cannot store a ${typeof value} in an evaluation`);
    }
    return value;
  }
  const known = seen.get(value);
  if (known !== undefined) return known;
  let packed: Record<string, unknown> | unknown[];
  const isAsset: boolean = asset.Archive.isInstance(value) || asset.Asset.isInstance(value);
  if (isAsset) {
    packed = await packAsset(asset, value as Pulumi.asset.Asset | Pulumi.asset.Archive, seen);
  } else if (Array.isArray(value)) {
    packed = [];
    seen.set(value, packed);
    for (const item of value) packed.push(await pack(asset, item, seen));
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new Error(
        `cannot store a ${(value as object).constructor?.name ?? "class instance"} in an evaluation`,
      );
    }
    packed = {};
    seen.set(value, packed);
    for (const [key, item] of Object.entries(value)) packed[key] = await pack(asset, item, seen);
  }
  seen.set(value, packed);
  return packed;
}

async function packAsset(
  asset: Assets,
  value: Pulumi.asset.Asset | Pulumi.asset.Archive,
  seen: Map<object, Packed>,
): Promise<Record<string, unknown>> {
  if (value instanceof asset.AssetArchive) {
    return { [ASSET]: "AssetArchive", assets: await pack(asset, await value.assets, seen) };
  }
  if (value instanceof asset.StringAsset) return { [ASSET]: "StringAsset", text: await value.text };
  if (value instanceof asset.FileAsset) return { [ASSET]: "FileAsset", path: await value.path };
  if (value instanceof asset.RemoteAsset) return { [ASSET]: "RemoteAsset", uri: await value.uri };
  if (value instanceof asset.FileArchive) return { [ASSET]: "FileArchive", path: await value.path };
  if (value instanceof asset.RemoteArchive)
    return { [ASSET]: "RemoteArchive", uri: await value.uri };
  throw new Error(`cannot store a ${value.constructor.name} in an evaluation`);
}

/** The inverse of {@link pack}: assets rebuilt, shared objects shared again. */
function unpack(asset: Assets, value: Packed, seen = new Map<object, unknown>()): unknown {
  if (value === null || typeof value !== "object") return value;
  const known = seen.get(value);
  if (known !== undefined) return known;
  let result: unknown;
  if (Array.isArray(value)) {
    const array: unknown[] = [];
    seen.set(value, array);
    for (const item of value) array.push(unpack(asset, item, seen));
    result = array;
  } else {
    const record = value as Record<string, unknown>;
    switch (record[ASSET]) {
      case undefined: {
        const object: Record<string, unknown> = {};
        seen.set(value, object);
        for (const [key, item] of Object.entries(record)) object[key] = unpack(asset, item, seen);
        result = object;
        break;
      }
      case "AssetArchive":
        result = new asset.AssetArchive(
          unpack(asset, record.assets, seen) as Pulumi.asset.AssetMap,
        );
        break;
      case "StringAsset":
        result = new asset.StringAsset(record.text as string);
        break;
      case "FileAsset":
        result = new asset.FileAsset(record.path as string);
        break;
      case "RemoteAsset":
        result = new asset.RemoteAsset(record.uri as string);
        break;
      case "FileArchive":
        result = new asset.FileArchive(record.path as string);
        break;
      case "RemoteArchive":
        result = new asset.RemoteArchive(record.uri as string);
        break;
      default:
        throw new Error(`unknown stored asset ${String(record[ASSET])}`);
    }
  }
  seen.set(value, result);
  return result;
}

/** Whether process `pid` is still running. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `compute()`, or what another process of this run stored for `key`. Data written by this
 * function is read back with the same shape: plain objects and arrays, `undefined` kept, and
 * Pulumi assets rebuilt.
 */
export async function sharedEvaluation<T>(key: string, compute: () => Promise<T>): Promise<T> {
  if (!runDir()) return compute();
  const { asset } = await import("@pulumi/pulumi");
  return shared(
    `evaluation:${key}`,
    compute,
    async (result) => v8.serialize(await pack(asset, result)),
    (data) => unpack(asset, v8.deserialize(data)) as T,
  );
}

/**
 * Runs `task` (e.g. a build into the working tree) once in this run: the first process to ask
 * runs it, the others wait for it to finish. A failed task is run again by the next process that
 * asks, so each sees the failure.
 */
export async function oncePerRun(key: string, task: () => Promise<unknown>): Promise<void> {
  if (!runDir()) {
    await task();
    return;
  }
  await shared(
    `task:${key}`,
    async () => {
      await task();
    },
    async () => Buffer.alloc(0),
    () => undefined,
  );
}

function runDir(): string | undefined {
  const dir = process.env[EVALUATIONS_DIR_ENV];
  return dir && fs.existsSync(dir) ? dir : undefined;
}

async function shared<T>(
  key: string,
  compute: () => Promise<T>,
  store: (result: T) => Promise<Buffer>,
  load: (data: Buffer) => T,
): Promise<T> {
  const base = path.join(runDir()!, crypto.createHash("sha256").update(key).digest("hex"));
  const data = `${base}.v8`;
  const lock = `${base}.lock`;
  for (;;) {
    if (fs.existsSync(data)) return load(fs.readFileSync(data));
    let claimed = false;
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: "wx" });
      claimed = true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    if (claimed) {
      try {
        // Another process may have stored it between the check and the claim.
        if (fs.existsSync(data)) continue;
        const result = await compute();
        const temporary = `${base}.${process.pid}.tmp`;
        fs.writeFileSync(temporary, await store(result));
        fs.renameSync(temporary, data);
        return result;
      } finally {
        fs.rmSync(lock, { force: true });
      }
    }
    // Someone else is computing it: wait, unless they died (then claim it ourselves).
    let owner: number;
    try {
      owner = Number(fs.readFileSync(lock, "utf8"));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw error;
    }
    if (owner > 0 && !alive(owner)) fs.rmSync(lock, { force: true });
    else await sleep(25);
  }
}

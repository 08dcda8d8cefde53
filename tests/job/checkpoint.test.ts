/**
 * The Pi job's checkpoints without threads or processes: the stored form, the local and S3
 * stores, the saver's timing, and the run loop resuming from one.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  GetObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import {
  Checkpoint,
  CheckpointError,
  CheckpointSaver,
  CheckpointStore,
  decodeCheckpoint,
  encodeCheckpoint,
  LocalCheckpointStore,
} from "../../job-image/src/checkpoint";
import { mergeSeries, seriesRange } from "../../job-image/src/chudnovsky";
import { runPiJob, VerificationError } from "../../job-image/src/job";
import { S3CheckpointStore } from "../../job-image/src/s3Checkpoint";
import { PI_2000, temporaryDir } from "./helpers/jobBuild";

function checkpoint(overrides: Partial<Checkpoint> = {}): Checkpoint {
  return {
    runId: "pi-20261123T0300Z",
    usedMs: 4321,
    pi: PI_2000.slice(0, 1002),
    steps: [
      { digits: 500, ms: 3 },
      { digits: 1000, ms: 5, from: 500 },
    ],
    terms: 72,
    part: seriesRange(0, 72, true),
    ...overrides,
  };
}

/** A store in memory; `save` waits for `gate` when one is set. */
function memoryStore(): CheckpointStore & { saved: Buffer[]; gate?: Promise<void> } {
  const store = {
    location: "memory://checkpoint.bin",
    saved: [] as Buffer[],
    gate: undefined as Promise<void> | undefined,
    load: async () => store.saved[store.saved.length - 1],
    save: async (data: Buffer) => {
      await store.gate;
      store.saved.push(data);
    },
  };
  return store;
}

describe("job checkpoints", () => {
  describe("stored form", () => {
    it("decodes to exactly what was encoded, P, a negative T and the digits included", () => {
      const odd = seriesRange(1, 2, true);
      assert.ok(odd.t < 0n, "a single odd term has a negative T");
      for (const original of [checkpoint(), checkpoint({ terms: 2, part: odd })]) {
        assert.deepEqual(decodeCheckpoint(encodeCheckpoint(original), original.runId), original);
      }
      const { p: _, ...withoutP } = checkpoint().part;
      const decoded = decodeCheckpoint(
        encodeCheckpoint(checkpoint({ part: withoutP })),
        "pi-20261123T0300Z",
      );
      assert.equal(decoded.part.p, undefined);
      assert.equal(decoded.part.q, withoutP.q);
    });

    it("gives a series part that the next terms extend to the part summed from scratch", () => {
      const saved = decodeCheckpoint(encodeCheckpoint(checkpoint()), "pi-20261123T0300Z");
      assert.deepEqual(
        mergeSeries(saved.part, seriesRange(72, 150, true), true),
        seriesRange(0, 150, true),
      );
    });

    const bad: [string, (data: Buffer) => Buffer, string | RegExp][] = [
      [
        "another file",
        () => Buffer.from("PK\x03\x04 zip"),
        "it is not a Pi job checkpoint of format 1",
      ],
      [
        "a cut-off copy",
        (data) => data.subarray(0, data.length - 10),
        /^its body has \d+ bytes, not \d+$/,
      ],
      [
        "a changed byte",
        (data) => {
          const changed = Buffer.from(data);
          changed[changed.length - 1] ^= 1;
          return changed;
        },
        "its body does not match its SHA-256",
      ],
      ["a header cut off", (data) => data.subarray(0, 40), "its header is cut off"],
    ];
    for (const [label, damage, message] of bad) {
      it(`refuses ${label}, saying what is wrong`, () => {
        assert.throws(
          () => decodeCheckpoint(damage(encodeCheckpoint(checkpoint())), "pi-20261123T0300Z"),
          (error: Error) => {
            assert.ok(error instanceof CheckpointError);
            if (typeof message === "string") assert.equal(error.message, message);
            else assert.match(error.message, message);
            return true;
          },
        );
      });
    }

    it("refuses another run's checkpoint, naming both runs", () => {
      assert.throws(
        () => decodeCheckpoint(encodeCheckpoint(checkpoint()), "pi-20261124T0300Z"),
        /^CheckpointError: it belongs to run "pi-20261123T0300Z", not pi-20261124T0300Z$/,
      );
    });
  });

  describe("local store", () => {
    let dir: string;
    beforeEach(() => (dir = temporaryDir("checkpoint")));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("has nothing before the first save, then the last saved bytes, replaced whole", async () => {
      const store = new LocalCheckpointStore(path.join(dir, "pi-1"));
      assert.equal(await store.load(), undefined);
      await store.save(Buffer.from("first"));
      await store.save(Buffer.from("second"));
      assert.equal((await store.load())?.toString(), "second");
      assert.deepEqual(fs.readdirSync(path.join(dir, "pi-1")), ["checkpoint.bin"]);
      assert.equal(store.location, path.join(dir, "pi-1", "checkpoint.bin"));
    });
  });

  describe("S3 store (aws-sdk-client-mock)", () => {
    // This client only: mocking the class would reach every S3Client of the process.
    const client = new S3Client({ region: "eu-west-1" });
    const s3 = mockClient(client);
    afterEach(() => s3.reset());
    const store = () => new S3CheckpointStore(client, "b", "jobs/pi/checkpoints/r1");

    it("saves one object under the prefix and reads it back", async () => {
      s3.on(PutObjectCommand).resolves({});
      s3.on(GetObjectCommand).resolves({
        // The part of a streaming body the store uses.
        Body: { transformToByteArray: async () => new Uint8Array(Buffer.from("state")) } as never,
      });
      await store().save(Buffer.from("state"));
      assert.deepEqual(
        s3.commandCalls(PutObjectCommand).map((c) => [c.args[0].input.Bucket, c.args[0].input.Key]),
        [["b", "jobs/pi/checkpoints/r1/checkpoint.bin"]],
      );
      assert.equal((await store().load())?.toString(), "state");
      assert.equal(store().location, "s3://b/jobs/pi/checkpoints/r1/checkpoint.bin");
    });

    it("reads NoSuchKey as no checkpoint yet, and fails on anything else (403 included)", async () => {
      s3.on(GetObjectCommand).rejects(
        new NoSuchKey({ message: "The specified key does not exist.", $metadata: {} }),
      );
      assert.equal(await store().load(), undefined);
      s3.reset();
      s3.on(GetObjectCommand).rejects(
        new S3ServiceException({
          name: "AccessDenied",
          $fault: "client",
          $metadata: { httpStatusCode: 403 },
          message: "Access Denied",
        }),
      );
      await assert.rejects(store().load(), /Access Denied/);
    });
  });

  describe("saver", () => {
    function saverWith(
      store: CheckpointStore,
      series = { terms: 72, part: seriesRange(0, 72, true) },
    ) {
      let clock = 0;
      const warnings: string[] = [];
      const saver = new CheckpointSaver({
        store,
        runId: "r1",
        usedBefore: 1000,
        series,
        intervalMs: 60_000,
        now: () => clock,
        warn: (m) => warnings.push(m),
      });
      return { saver, warnings, advance: (ms: number) => (clock += ms) };
    }
    const state = { pi: PI_2000.slice(0, 1002), steps: [{ digits: 1000, ms: 5 }] };
    const settle = () => new Promise((resolve) => setImmediate(resolve));

    it("saves after a step only once the interval has passed, counting earlier attempts' time", async () => {
      const store = memoryStore();
      const { saver, advance } = saverWith(store);
      advance(59_999);
      saver.stepVerified(state);
      await settle();
      assert.equal(store.saved.length, 0);
      advance(1);
      saver.stepVerified(state);
      await settle();
      assert.equal(store.saved.length, 1);
      const saved = decodeCheckpoint(store.saved[0], "r1");
      assert.equal(saved.usedMs, 61_000);
      assert.equal(saved.pi, state.pi);
      saver.stepVerified(state);
      await settle();
      assert.equal(store.saved.length, 1, "the interval starts again at each save");
    });

    it("saves one at a time, and a stop waits for the save under way before saving its own", async () => {
      const store = memoryStore();
      let open!: () => void;
      store.gate = new Promise((resolve) => (open = resolve));
      const { saver, advance } = saverWith(store);
      advance(60_000);
      saver.stepVerified(state);
      advance(60_000);
      saver.stepVerified({ ...state, pi: PI_2000.slice(0, 1502) });
      const stopped = saver.saveNow({ ...state, pi: PI_2000.slice(0, 2002) });
      open();
      await stopped;
      assert.deepEqual(
        store.saved.map((data) => decodeCheckpoint(data, "r1").pi.length - 2),
        [1000, 2000],
      );
    });

    it("warns and goes on when a periodic save fails, but a stop's save rejects", async () => {
      const store = memoryStore();
      store.save = async () => {
        throw new Error("SlowDown");
      };
      const { saver, warnings, advance } = saverWith(store);
      advance(60_000);
      saver.stepVerified(state);
      await settle();
      await settle();
      assert.deepEqual(warnings, [
        "saving the checkpoint to memory://checkpoint.bin failed (SlowDown); the run goes on",
      ]);
      await assert.rejects(saver.saveNow(state), /SlowDown/);
    });
  });

  describe("run loop resuming", () => {
    const planner = { initialDigits: 100, maxDigits: 2000 };
    const resume = {
      pi: PI_2000.slice(0, 502),
      steps: [
        { digits: 250, ms: 1 },
        { digits: 500, ms: 2, from: 250 },
      ],
      extendable: true,
    };

    it("continues from the checkpoint's result and steps, extending its series part", async () => {
      const targets: number[] = [];
      const result = await runPiJob({
        deadline: performance.now() + 10_000,
        planner,
        resume,
        compute: async (digits) => {
          targets.push(digits);
          return PI_2000.slice(0, digits + 2);
        },
      });
      assert.deepEqual(targets, [1000, 2000]);
      assert.deepEqual(
        result.steps.map((s) => [s.digits, s.from]),
        [
          [250, undefined],
          [500, 250],
          [1000, 500],
          [2000, 1000],
        ],
      );
      assert.equal(result.pi, PI_2000);
      assert.equal(result.stopReason, "max-digits");
    });

    it("checks the first new step against the checkpoint's digits", async () => {
      // Within the checkpoint's 500 places: the 400th character is decimal place 399.
      const flipped = PI_2000[400] === "1" ? "2" : "1";
      const wrong = `${PI_2000.slice(0, 400)}${flipped}${PI_2000.slice(401, 1002)}`;
      await assert.rejects(
        runPiJob({
          deadline: performance.now() + 10_000,
          planner,
          resume,
          compute: async () => wrong,
        }),
        (error: Error) =>
          error instanceof VerificationError &&
          error.message.includes("disagrees with the previous step at decimal place 399"),
      );
    });

    it("keeps the checkpoint's result when no step fits in the time the run has left", async () => {
      const result = await runPiJob({
        deadline: performance.now(),
        planner,
        resume,
        compute: () => assert.fail("no step was expected"),
      });
      assert.equal(result.pi, resume.pi);
      assert.equal(result.stopReason, "planned");
    });
  });
});

import * as assert from "node:assert/strict";
import { InvalidLaunchSpecError } from "../../launcher/errors";
import {
  clientTokenFor,
  CLIENT_TOKEN_MAX_LENGTH,
  runIdFor,
  type ClientTokenInput,
} from "../../launcher/runId";
import { JOB_NAME_MAX_LENGTH, RUN_ID_PATTERN } from "../../launcher/contract";
import { parseStackConfig } from "../../config";

describe("runIdFor", () => {
  const cases: [string, string, string][] = [
    ["pi", "2026-11-23T03:00:00Z", "pi-20261123T0300Z"],
    ["pi", "2026-11-23T03:00:59.999Z", "pi-20261123T0300Z"],
    ["nightly-report", "2027-01-05T23:59:00+01:00", "nightly-report-20270105T2259Z"],
    ["a", "2026-02-01T00:00:00Z", "a-20260201T0000Z"],
  ];
  for (const [job, time, expected] of cases) {
    it(`${job} at ${time} -> ${expected}`, () => {
      const runId = runIdFor(job, new Date(time));
      assert.equal(runId, expected);
      assert.match(runId, RUN_ID_PATTERN);
    });
  }

  it("gives the same id for the same run and different ids a minute apart", () => {
    assert.equal(
      runIdFor("pi", new Date("2026-11-23T03:00:00Z")),
      runIdFor("pi", new Date("2026-11-23T03:00:00Z")),
    );
    assert.notEqual(
      runIdFor("pi", new Date("2026-11-23T03:00:00Z")),
      runIdFor("pi", new Date("2026-11-23T03:01:00Z")),
    );
  });

  // The config's rule (launcher/contract.ts), not a looser one: a digit first or 25 characters.
  const badJobs = ["", "Pi", "pi_1", "-pi", "1pi", "pi job", "pi;rm", "x".repeat(25)];
  for (const job of badJobs) {
    it(`rejects job name ${JSON.stringify(job)}`, () => {
      assert.throws(
        () => runIdFor(job, new Date("2026-11-23T03:00:00Z")),
        (e: Error) =>
          e instanceof InvalidLaunchSpecError &&
          e.message.startsWith(`job: ${JSON.stringify(job)} is not a valid job name`),
      );
    });
  }

  it("accepts every job name config accepts, up to the longest", () => {
    const minimalJob = { schedule: "cron(0 6 * * ? *)", instanceTypes: ["t3.medium"] };
    const longest = "j".repeat(JOB_NAME_MAX_LENGTH);
    assert.ok(parseStackConfig({ regions: ["eu-west-1"], jobs: { [longest]: minimalJob } }, "d"));
    assert.match(runIdFor(longest, new Date("2026-11-23T03:00:00Z")), RUN_ID_PATTERN);
  });

  it("rejects an invalid date", () => {
    assert.throws(() => runIdFor("pi", new Date("nope")), /scheduledTime: not a valid date/);
  });
});

describe("clientTokenFor", () => {
  const base: ClientTokenInput = {
    environment: "dev",
    launchTemplateId: "lt-0123456789abcdef0",
    runId: "pi-20261123T0300Z",
    purchaseOption: "spot",
    instanceType: "m7i.large",
    subnetId: "subnet-aaaa",
  };

  it("is a stable, short ASCII token", () => {
    const token = clientTokenFor(base);
    assert.equal(token, clientTokenFor({ ...base }));
    assert.match(token, /^tj-[0-9a-f]{48}$/);
    assert.ok(token.length <= CLIENT_TOKEN_MAX_LENGTH);
  });

  for (const field of Object.keys(base) as (keyof ClientTokenInput)[]) {
    it(`changes with ${field}`, () => {
      const changed = { ...base, [field]: field === "purchaseOption" ? "on-demand" : "other" };
      assert.notEqual(clientTokenFor(changed), clientTokenFor(base));
    });
  }
});

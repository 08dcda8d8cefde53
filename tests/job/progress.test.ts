import * as assert from "node:assert/strict";
import {
  createProgressReporter,
  formatCount,
  formatProgressLine,
  formatStepLine,
} from "../../job-image/src/progress";

describe("job progress output", () => {
  it("formats counts, the terminal line and the log line", () => {
    assert.equal(formatCount(1234567), "1,234,567");
    assert.equal(
      formatProgressLine({ digits: 512000, computing: 1024000, leftMs: 3456 }),
      "pi: 512,000 digits | computing 1,024,000 | 3.5 s left",
    );
    assert.equal(formatProgressLine({ digits: 0, leftMs: -20 }), "pi: 0 digits | 0.0 s left");
    assert.equal(
      formatStepLine(7, 64000, 196, 3940),
      "pi: step 7 verified 64,000 digits in 0.2 s, 3.9 s left",
    );
  });

  it("prints one plain line per step when not a terminal", () => {
    const written: string[] = [];
    let left = 5000;
    const reporter = createProgressReporter({
      write: (text) => written.push(text),
      tty: false,
      leftMs: () => left,
    });
    reporter.stepStarted(1000);
    reporter.stepFinished(1000, 12);
    left = 4000;
    reporter.stepStarted(2000);
    reporter.stepFinished(2000, 30);
    reporter.stop();
    assert.deepEqual(written, [
      "pi: step 1 verified 1,000 digits in 0.0 s, 5.0 s left\n",
      "pi: step 2 verified 2,000 digits in 0.0 s, 4.0 s left\n",
    ]);
    assert.ok(
      written.every((line) => !line.includes("\r") && !line.includes("\u001b")),
      "no control characters in logs",
    );
  });

  it("redraws one line on a terminal, on events and on a timer, and ends it", async () => {
    const written: string[] = [];
    const reporter = createProgressReporter({
      write: (text) => written.push(text),
      tty: true,
      leftMs: () => 2500,
      intervalMs: 10,
    });
    reporter.stepStarted(4000);
    assert.deepEqual(written, ["\r\x1b[2Kpi: 0 digits | computing 4,000 | 2.5 s left"]);
    await new Promise((resolve) => setTimeout(resolve, 45));
    const ticks = written.length - 1;
    assert.ok(ticks >= 2, `redrawn ${ticks} times by the timer`);
    reporter.stepFinished(4000, 20);
    reporter.stop();
    assert.deepEqual(written.slice(-3), [
      "\r\x1b[2Kpi: 4,000 digits | 2.5 s left",
      "\r\x1b[2Kpi: 4,000 digits | 2.5 s left",
      "\n",
    ]);
    const count = written.length;
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(written.length, count, "no redraw after stop");
  });
});

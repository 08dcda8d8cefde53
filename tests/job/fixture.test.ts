import * as assert from "node:assert/strict";
import { gaussPi, machinPi } from "./helpers/machin";
import { PI_2000 } from "./helpers/jobBuild";

describe("job fixture: 2,000 places of Pi", () => {
  it("is what two independent arctangent formulas compute", () => {
    const machin = machinPi(2000);
    assert.equal(machin, gaussPi(2000));
    assert.equal(PI_2000, machin);
  });

  it("has the shape and the landmarks every table of Pi shows", () => {
    assert.match(PI_2000, /^3\.\d{2000}$/);
    assert.equal(PI_2000.slice(0, 12), "3.1415926535");
    // The Feynman point: six 9s from place 762.
    assert.equal(PI_2000.slice(1 + 762, 1 + 768), "999999");
  });
});

// OpenSVC's retcodes as svcc reads them: rules in code order, the default for an empty value,
// warn for an exit code no rule names, and a clear refusal of anything that is not CODE:STATUS.

import { describe, expect, it } from "vitest";
import { parseRetcodes, retcodesFromObject, retcodesObject, statusOfExit } from "../../src/runtime/retcodes.js";

describe("retcodes", () => {
  it("reads CODE:STATUS rules in any order and spacing; an empty value is the default 0:up 1:down", () => {
    expect([...parseRetcodes(" 3:n/a\t0:up  1:down 2:down ")]).toEqual([[0, "up"], [1, "down"], [2, "down"], [3, "n/a"]]);
    expect([...parseRetcodes("")]).toEqual([[0, "up"], [1, "down"]]);
    expect([...parseRetcodes("1:up 0:down 3:n/a")]).toEqual([[0, "down"], [1, "up"], [3, "n/a"]]);
    // The last rule for a code wins, as in OpenSVC (a map assignment).
    expect(parseRetcodes("2:warn 2:down").get(2)).toBe("down");
  });

  it("an exit code without a rule is warn, as in both OpenSVC agents", () => {
    const rules = parseRetcodes("0:up 1:down");
    expect([0, 1, 2, 3, 127].map((c) => statusOfExit(rules, c))).toEqual(["up", "down", "warn", "warn", "warn"]);
    expect(statusOfExit(parseRetcodes("0:up 1:down 4:undef"), 4)).toBe("undef");
  });

  it("refuses what is not a rule, naming it", () => {
    expect(() => parseRetcodes("0:up 1:dwon")).toThrow('"1:dwon": the status must be one of up, down, warn, n/a, undef');
    expect(() => parseRetcodes("0=up")).toThrow('"0=up" is not a CODE:STATUS rule');
    expect(() => parseRetcodes("-1:down")).toThrow('"-1:down" is not a CODE:STATUS rule');
    expect(() => parseRetcodes("256:down")).toThrow('"256:down": exit codes go from 0 to 255');
    expect(() => parseRetcodes("0:stdby up")).toThrow('"0:stdby"');
  });

  it("travels to the helper as a JSON object and back, unchanged; anything else is refused", () => {
    const rules = parseRetcodes("0:up 1:down 3:n/a");
    expect(retcodesFromObject(JSON.parse(JSON.stringify(retcodesObject(rules))))).toEqual(rules);
    expect(() => retcodesFromObject(["0:up"])).toThrow("must be an object");
    expect(() => retcodesFromObject({ "0": "sick" })).toThrow("exit code 0: the status must be one of");
    expect(() => retcodesFromObject({ "999": "down" })).toThrow('"999" is not an exit code');
  });
});

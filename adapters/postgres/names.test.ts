import { describe, expect, test } from "bun:test";
import { isValidationError } from "../../src/index.js";
import { tableNames } from "./names.js";
import { statements } from "./statements.js";

// Stores made per transaction (a projection batch's checkpoint store) ask for their names and
// statements every time: both are derived once per schema and prefix.
describe("tableNames", () => {
  test("hands out one frozen object per schema and prefix, and its statements are rendered once", () => {
    const a = tableNames({ schema: "names_probe", tablePrefix: "app_" });
    expect(tableNames({ schema: "names_probe", tablePrefix: "app_" })).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(a.events).toBe('"names_probe"."app_events"');
    expect(statements(a)).toBe(statements(tableNames({ schema: "names_probe", tablePrefix: "app_" })));
    expect(tableNames({ schema: "names_probe" })).not.toBe(a);
    expect(tableNames({ schema: "names_probe" }).events).toBe('"names_probe"."events"');
    expect(tableNames()).toBe(tableNames({ schema: "eventflows", tablePrefix: "" }));
  });

  test("still refuses an invalid name every time it is asked", () => {
    for (let i = 0; i < 2; i++) {
      let error: unknown;
      try {
        tableNames({ schema: "Bad-Schema" });
      } catch (e) {
        error = e;
      }
      expect(isValidationError(error)).toBe(true);
    }
    expect(() => tableNames({ schema: 42 as unknown as string })).toThrow();
  });
});

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { CliUsageError } from "../errors.js";
import { toNames } from "./names.js";

describe("generate names", () => {
  test("PascalCase names are spelt for types, values and files", () => {
    expect(toNames("ShoppingCart")).toEqual({ pascal: "ShoppingCart", camel: "shoppingCart", kebab: "shopping-cart" });
    expect(toNames("HTTPServer").kebab).toBe("http-server");
    expect(toNames("Order2Go").kebab).toBe("order2-go");
    expect(toNames("A").camel).toBe("a");
  });

  test("any accepted name gives a file name of a-z 0-9 and single dashes (property)", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,63}$/), (name) => {
        const { kebab, camel } = toNames(name);
        expect(kebab).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
        expect(camel).toMatch(/^[a-z][A-Za-z0-9]*$/);
      }),
    );
  });

  test("anything else is a usage error naming the rule (property)", () => {
    const bad = fc.string({ maxLength: 80 }).filter((name) => !/^[A-Z][A-Za-z0-9]{0,63}$/.test(name));
    fc.assert(
      fc.property(bad, (name) => {
        const error = (() => {
          try {
            toNames(name);
          } catch (caught) {
            return caught;
          }
        })();
        expect(error).toBeInstanceOf(CliUsageError);
        expect((error as CliUsageError).code).toBe("CLI_USAGE");
      }),
    );
  });
});

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { CliUsageError } from "../errors.js";
import { KINDS, toNames } from "./names.js";

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

  test("a name whose files would not compile is refused for that kind: a reserved word as a function, a clash", () => {
    const refused: [string, (typeof KINDS)[number], string][] = [
      ["Function", "event", 'its factory function would be named "function", a word JavaScript reserves'],
      ["Default", "command", 'its sender function would be named "default", a word JavaScript reserves'],
      ["Await", "event", 'its factory function would be named "await"'],
      ["Undefined", "event", 'its factory function would be named "undefined"'],
      ["Describe", "event", '"describe" is already used by the generated files'],
      ["Read", "event", '"read" is already used'],
      ["EventEnvelope", "event", '"EventEnvelope" is already used'],
      ["Store", "command", '"store" is already used'],
      ["Added", "command", '"added" is already used'],
      ["AggregateRoot", "aggregate", '"AggregateRoot" is already used'],
    ];
    for (const [name, kind, reason] of refused) {
      let caught: unknown;
      try {
        toNames(name, kind);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(CliUsageError);
      expect((caught as CliUsageError).message).toStartWith(`Invalid name "${name}" for a`);
      expect((caught as CliUsageError).message).toContain(reason);
    }
    // The same words where the files use them otherwise, and names of the language's globals, are fine.
    expect(toNames("Default", "aggregate").camel).toBe("default");
    expect(toNames("Function", "query").kebab).toBe("function");
    expect(toNames("Describe", "saga").camel).toBe("describe");
    for (const kind of KINDS) for (const name of ["Object", "Promise", "Map", "Error"]) toNames(name, kind);
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

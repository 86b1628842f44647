import { CliUsageError } from "../errors.js";

/** The kinds of file sets `eventflows generate` writes. */
export const KINDS = ["aggregate", "command", "query", "event", "projection", "saga"] as const;
export type Kind = (typeof KINDS)[number];

export function isKind(value: string): value is Kind {
  return (KINDS as readonly string[]).includes(value);
}

/** The spellings of one name the templates need. */
export interface Names {
  /** `OrderSummary`: types, classes, message types. */
  readonly pascal: string;
  /** `orderSummary`: values and functions. */
  readonly camel: string;
  /** `order-summary`: file names, projection and collection names. */
  readonly kebab: string;
}

// An identifier in PascalCase: it becomes a class, a type and a message type as given, and the
// file name is derived from it, so nothing outside ASCII letters and digits may reach either.
const PASCAL = /^[A-Z][A-Za-z0-9]{0,63}$/;

/**
 * Checks a name given to `generate` and spells it the ways the templates need. Throws a
 * {@link CliUsageError} (exit 2) naming the rule it breaks.
 */
export function toNames(name: string): Names {
  if (!PASCAL.test(name)) {
    throw new CliUsageError(
      `Invalid name "${name}": use PascalCase, 1-64 ASCII letters and digits starting with a capital letter (e.g. ShoppingCart)`,
      "generate",
      [{ path: ["name"], message: "must match /^[A-Z][A-Za-z0-9]{0,63}$/" }],
    );
  }
  const words = name.match(/[A-Z]+(?![a-z])|[A-Z][a-z0-9]*|[0-9]+/g) ?? [name];
  return {
    pascal: name,
    camel: name.charAt(0).toLowerCase() + name.slice(1),
    kebab: words.map((word) => word.toLowerCase()).join("-"),
  };
}

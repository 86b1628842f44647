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

// The event's factory and the command's sender are functions named by the name in camelCase, which
// cannot be a word JavaScript reserves (in a module: strict mode), nor one a module may not bind.
const RESERVED = new Set(
  (
    "break case catch class const continue debugger default delete do else enum export extends false finally for " +
    "function if import in instanceof new null return super switch this throw true try typeof var void while with " +
    "implements interface let package private protected public static yield await eval arguments undefined"
  ).split(" "),
);
const BARE_CAMEL: ReadonlySet<Kind> = new Set(["event", "command"]);

// What a kind's files import or declare besides the name's own spellings: a name spelt as one of them
// (as a type or class, or in camelCase as a function) would clash with it, and the files would not compile.
const TAKEN: Readonly<Record<Kind, readonly string[]>> = {
  aggregate: ["AggregateRoot", "EventFlowsError"],
  command: ["describe", "test", "assertEqual", "commandSpec", "setUp", "store", "commands", "added"],
  event: [
    "describe",
    "test",
    "assertEqual",
    "collect",
    "commandSpec",
    "store",
    "read",
    "EventEnvelope",
    "EnvelopeOf",
    "InMemoryEventStore",
  ],
  query: [],
  projection: [],
  saga: [],
};

/**
 * Checks a name given to `generate` and spells it the ways the templates need. Throws a
 * {@link CliUsageError} (exit 2) naming the rule it breaks; with `kind`, also a name whose files
 * would not compile (a reserved word as the event's factory, a clash with what the files import).
 */
export function toNames(name: string, kind?: Kind): Names {
  if (!PASCAL.test(name)) {
    throw new CliUsageError(
      `Invalid name "${name}": use PascalCase, 1-64 ASCII letters and digits starting with a capital letter (e.g. ShoppingCart)`,
      "generate",
      [{ path: ["name"], message: "must match /^[A-Z][A-Za-z0-9]{0,63}$/" }],
    );
  }
  const words = name.match(/[A-Z]+(?![a-z])|[A-Z][a-z0-9]*|[0-9]+/g) ?? [name];
  const names = {
    pascal: name,
    camel: name.charAt(0).toLowerCase() + name.slice(1),
    kebab: words.map((word) => word.toLowerCase()).join("-"),
  };
  if (kind !== undefined) {
    const clash = [names.pascal, names.camel].find((spelling) => TAKEN[kind].includes(spelling));
    const reserved = BARE_CAMEL.has(kind) && RESERVED.has(names.camel);
    if (clash !== undefined || reserved) {
      throw new CliUsageError(
        `Invalid name "${name}" for ${/^[aeiou]/.test(kind) ? "an" : "a"} ${kind}: ${
          reserved
            ? `its ${kind === "event" ? "factory" : "sender"} function would be named "${names.camel}", a word JavaScript reserves`
            : `"${clash}" is already used by the generated files`
        }, so its files would not compile; choose another name`,
        "generate",
        [{ path: ["name"], message: reserved ? "is a reserved word in camelCase" : `clashes with ${clash}` }],
      );
    }
  }
  return names;
}

import { CliUsageError } from "../errors.js";
import type { CliIo } from "../io.js";
import { parseCommand } from "../parse.js";
import { isKind, KINDS, toNames } from "./names.js";
import { templatesFor } from "./templates.js";
import { writeTemplates } from "./write.js";

export const GENERATE_USAGE = `Usage: eventflows generate <kind> <Name> [options]

Writes a module and its Given-When-Then test (node:test, runs under Bun and Node) that compile
against @eventflows/core. Running it again with the same input changes nothing.

Kinds:
  aggregate   an AggregateRoot with two events, tested with aggregateSpec
  command     a command type and its handler on a CommandBus, tested with commandSpec
  query       a query type and its handler reading a ReadModelStore
  event       an event type, its factory and type guard
  projection  a projection() keeping one document per stream, tested with a ProjectionRunner
  saga        a defineSaga() with a compensation and a timeout, tested with a SagaRuntime

<Name> is PascalCase (ShoppingCart); files are named in kebab-case (shopping-cart.ts). A name the
files of its kind could not use is refused: a reserved word for an event or command, whose factory and
sender are the name in camelCase (Function, Default), or a name they import (Describe, AggregateRoot).

Options:
  --dir <path>  the directory to write into, relative to the working directory (default: src);
                created if missing
  --force       replace files that differ from what would be written
  --json        print the result as JSON
  --verbose     print stack traces of errors
  -h, --help    show this text`;

export async function generate(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand("generate", args, {
    dir: { type: "string" },
    force: { type: "boolean" },
  });
  if (values.help) {
    io.stdout(GENERATE_USAGE);
    return 0;
  }
  const [kind, name, ...extra] = positionals;
  if (kind === undefined || !isKind(kind)) {
    throw new CliUsageError(
      kind === undefined
        ? `Missing the kind: one of ${KINDS.join(", ")}`
        : `Unknown kind "${kind}": one of ${KINDS.join(", ")}`,
      "generate",
    );
  }
  if (name === undefined) throw new CliUsageError(`Missing the name of the ${kind}`, "generate");
  if (extra.length > 0) throw new CliUsageError(`Unexpected argument "${extra[0]}"`, "generate");
  const names = toNames(name, kind);
  const dir = values.dir ?? "src";
  if (dir === "") throw new CliUsageError("--dir needs a path", "generate");
  const files = writeTemplates(io.cwd, dir, templatesFor(kind, names), values.force === true);
  if (values.json) {
    io.stdout(JSON.stringify({ kind, name, files }));
  } else {
    for (const file of files) io.stdout(`${file.status.padEnd(11)} ${file.path}`);
  }
  return 0;
}

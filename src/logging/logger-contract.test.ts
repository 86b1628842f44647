import { describe, expect, test } from "bun:test";
import { loggerContract, registerContract, runContract } from "../testing/index.js";
import { consoleLogger, jsonLogger, pinoLogger } from "./json-logger.js";

registerContract(
  loggerContract({ name: "jsonLogger contract", create: (sink) => jsonLogger({ level: "debug", write: sink }) }),
  { describe, test },
);

registerContract(
  loggerContract({
    name: "consoleLogger contract",
    create: (sink) => {
      const write = (...args: unknown[]) => sink(JSON.stringify(args));
      return consoleLogger({ console: { debug: write, info: write, warn: write, error: write } });
    },
  }),
  { describe, test },
);

registerContract(
  loggerContract({
    name: "pinoLogger contract",
    create: (sink) => {
      const write = (fields: object, message: string) => sink(JSON.stringify([fields, message]));
      return pinoLogger({ debug: write, info: write, warn: write, error: write });
    },
  }),
  { describe, test },
);

describe("loggerContract", () => {
  test("catches a logger that writes fields as they are", async () => {
    const leaky = loggerContract({
      name: "leaky",
      create: (sink) => {
        const write = (message: string, fields?: object) =>
          sink(
            `${message} ${JSON.stringify(fields, (_key, value) => (typeof value === "bigint" ? String(value) : value))}`,
          );
        return { debug: write, info: write, warn: write, error: write };
      },
    });
    const results = await runContract(leaky);
    expect(results.filter((result) => !result.ok).map((result) => result.name)).toEqual([
      "a credential never reaches the output, by field name at any depth or inside text",
      "awkward fields are written, not thrown: a cycle, a bigint, an error with a code and a cause",
    ]);
  });
});

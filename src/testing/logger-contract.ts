import type { Logger, LogLevel } from "../logging/logger.js";
import { assert } from "./assert.js";
import { type ContractCase, type ContractSuite, checkContractOptions } from "./contract.js";

export interface LoggerContractOptions {
  readonly name: string;
  /**
   * A logger under test that writes every level, and hands what it wrote (each line or call, as
   * text: JSON of the arguments for a logger that takes objects) to `sink`.
   */
  readonly create: (sink: (written: string) => void) => Logger;
}

const LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/**
 * What every logger the library writes to must do: write each level, keep the fields, survive any
 * fields (cycles, bigints, errors with causes), and never let a credential through, whether in a
 * credential-named field at any depth or inside text.
 */
export function loggerContract(options: LoggerContractOptions): ContractSuite {
  checkContractOptions("loggerContract", options, { functions: ["create"] });
  const cases: ContractCase[] = [];
  const add = (name: string, run: (logger: Logger, written: string[]) => void) =>
    cases.push({
      name,
      run: async () => {
        const written: string[] = [];
        run(
          options.create((text) => void written.push(text)),
          written,
        );
      },
    });

  add("each level writes its message and fields", (logger, written) => {
    for (const level of LEVELS) logger[level](`a ${level} line`, { orderId: `order-${level}` });
    assert(written.length === LEVELS.length, `expected ${LEVELS.length} writes, got ${written.length}`);
    LEVELS.forEach((level, index) => {
      const text = written[index] ?? "";
      assert(text.includes(`a ${level} line`), `the ${level} write lacks its message: ${text}`);
      assert(text.includes(`order-${level}`), `the ${level} write lacks its field: ${text}`);
    });
  });

  add("a credential never reaches the output, by field name at any depth or inside text", (logger, written) => {
    const secret = "sk_live_4f9a8b7c6d5e4f3a2b1c";
    logger.error(`connecting to postgres://app:${secret}@db.internal/shop failed`, {
      password: secret,
      apiKey: secret,
      "x-api-key": secret,
      request: { headers: { authorization: `Bearer ${secret}`, cookie: secret } },
      aws: { secretAccessKey: secret, sessionToken: secret },
      list: [{ client_secret: secret }],
      error: new Error(`postgres://app:${secret}@db.internal refused`),
    });
    const text = written.join("\n");
    assert(text.length > 0, "nothing was written");
    assert(!text.includes(secret), `the secret was written: ${text}`);
  });

  add(
    "awkward fields are written, not thrown: a cycle, a bigint, an error with a code and a cause",
    (logger, written) => {
      const cyclic: Record<string, unknown> = { name: "loop" };
      cyclic.self = cyclic;
      const error = Object.assign(new Error("outer", { cause: new Error("inner") }), { code: "SOME_CODE" });
      logger.warn("awkward", { cyclic, big: 2n ** 70n, error, missing: undefined, fn: () => 1 });
      const text = written.join("\n");
      assert(text.includes("awkward"), `the line is missing: ${text}`);
      assert(text.includes("SOME_CODE"), `the error's code is missing: ${text}`);
      assert(text.includes("outer"), `the error's message is missing: ${text}`);
    },
  );

  return { name: options.name, cases };
}

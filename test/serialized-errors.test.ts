/**
 * `JSON.stringify(error)` is how an error reaches a log line, an error tracker or a response body when
 * nobody chose the fields: for every error class the package exports, it shows nothing of what the error
 * was built from outside the library (a backend's or a callback's error, with the request, headers and
 * credentials such an error carries), however the class keeps it (as its `cause`, in a list of errors,
 * inside an undelivered dead letter).
 */
import { describe, expect, test } from "bun:test";
import { type ErrorClass, exportedErrorClasses } from "./error-classes.ts";

const SECRET = "Zq7-secret-in-a-thrown-error";

/** What an HTTP or database client throws: a credential in its message and in enumerable fields. */
function thrown(): Error {
  return Object.assign(new Error(`connect failed with token ${SECRET}`), {
    config: { headers: { authorization: `Bearer ${SECRET}` } },
    password: SECRET,
  });
}

/** The shapes in which a class takes a thrown error: options, a bare cause, a list, undelivered dead letters. */
function carriers(error: Error): unknown[] {
  const event = { id: "01J", type: "Paid", streamId: "Order-1", version: 1, data: {}, metadata: {} };
  const letter = { event, entry: {}, errorCode: "AccessDeniedException", errorMessage: "denied", attempts: 1 };
  return [{ cause: error }, error, [error], [{ letter, error }]];
}

/** Every instance of `type` that keeps a thrown error as its cause, with placeholders for the other arguments. */
function instancesKeeping(type: ErrorClass): { error: Error; instance: Error }[] {
  const found: { error: Error; instance: Error }[] = [];
  for (const fill of ["x", 1, [], {}] as const) {
    for (let at = 0; at < 7; at++) {
      for (let shape = 0; shape < 4; shape++) {
        const error = thrown();
        const args: unknown[] = Array.from({ length: 7 }, () => fill);
        args[at] = carriers(error)[shape];
        try {
          const instance = new type(...args);
          if (instance.cause === error) found.push({ error, instance });
        } catch {
          // A placeholder this class refuses: another fill or position takes it.
        }
      }
    }
  }
  return found;
}

describe("every exported error class, serialized", () => {
  test("JSON.stringify shows nothing of a thrown error it keeps: not its message, fields or stack", async () => {
    const classes = await exportedErrorClasses();
    expect(classes.size).toBeGreaterThan(40);
    const leaks: string[] = [];
    const keeping: string[] = [];
    for (const [name, type] of classes) {
      const instances = instancesKeeping(type);
      if (instances.length > 0) keeping.push(name);
      for (const { error, instance } of instances) {
        const json = JSON.stringify(instance);
        if (json.includes(SECRET) || json.includes(String(error.stack))) leaks.push(`${name}: ${json.slice(0, 200)}`);
      }
    }
    expect(leaks).toEqual([]);
    // The test reaches the classes that keep what handlers, mappings and dead-letter sinks threw.
    expect(keeping).toEqual(
      expect.arrayContaining(["ServiceError", "HandlersFailedError", "MappingFailedError", "PublishIncompleteError"]),
    );
    expect(keeping.length).toBeGreaterThan(35);
  });

  test("`name`, on the error and in its JSON, is the name of the class it is exported as", async () => {
    const wrong: string[] = [];
    for (const [name, type] of await exportedErrorClasses()) {
      const instance = anyInstance(type);
      if (instance === undefined) {
        wrong.push(`${name}: no instance made`);
        continue;
      }
      const serialized = (JSON.parse(JSON.stringify(instance)) as { name?: unknown }).name;
      if (instance.name !== name || serialized !== name) wrong.push(`${name}: ${instance.name}, ${String(serialized)}`);
    }
    expect(wrong).toEqual([]);
  });
});

/** An instance of `type` from placeholder arguments (the first kind of placeholder it takes). */
function anyInstance(type: ErrorClass): Error | undefined {
  for (const fill of ["x", 1, [], {}] as const) {
    try {
      return new type(...Array.from({ length: 7 }, () => fill));
    } catch {
      // A placeholder this class refuses: try the next kind.
    }
  }
  return undefined;
}

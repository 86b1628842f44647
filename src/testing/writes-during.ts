/**
 * Which of `methods` the object's own code called while `action` ran: the ping cases' witness that a
 * health check wrote through the store's write path. Each method is wrapped on the instance for the
 * call only, and put back however `action` ends, so the store is left as it was given.
 */
export async function writesDuring(target: object, methods: readonly string[], action: () => Promise<unknown>) {
  const called: string[] = [];
  const record = target as Record<string, unknown>;
  const wrapped = methods.filter((name) => typeof record[name] === "function");
  const hadOwn = new Map(wrapped.map((name) => [name, Object.hasOwn(record, name)]));
  const originals = new Map(wrapped.map((name) => [name, record[name] as (...args: unknown[]) => unknown]));
  for (const [name, original] of originals) {
    record[name] = function (this: unknown, ...args: unknown[]) {
      called.push(name);
      return original.apply(this, args);
    };
  }
  try {
    await action();
  } finally {
    for (const [name, original] of originals) {
      // A method the instance inherited is unwrapped by deleting the wrapper, not by shadowing it for good.
      if (hadOwn.get(name)) record[name] = original;
      else delete record[name];
    }
  }
  return [...new Set(called)];
}

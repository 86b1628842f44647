// What a raise that fails leaves behind, seen as an application sees it (the public entry only): an
// event no store would take changes nothing, and a handler that throws part-way leaves an aggregate
// that refuses to go on, so no save ever persists a state that no event explains.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  AggregateBrokenError,
  AggregateRepository,
  AggregateRoot,
  type EventHandlerMap,
  type EventOfType,
  everyNEvents,
  InMemoryEventStore,
  InMemorySnapshotStore,
  isAggregateBrokenError,
  ValidationError,
} from "../index.js";

type BasketEvent = { type: "ItemsAdded"; data: { items: string[] } } | { type: "Noted"; data: { note: unknown } };
interface BasketState {
  items: string[];
  count: number;
}

/** Adds items one by one, mutating the state, and throws at an item named "boom": part-way, whatever its place. */
class Basket extends AggregateRoot<BasketState, BasketEvent> {
  constructor(id: string) {
    super(id, { items: [], count: 0 });
  }
  add(items: string[]) {
    this.raise("ItemsAdded", { items });
  }
  note(note: unknown, metadata?: Record<string, unknown>) {
    this.raise("Noted", { note }, metadata);
  }
  protected onItemsAdded(event: EventOfType<BasketEvent, "ItemsAdded">) {
    for (const item of event.data.items) {
      if (item === "boom") throw new TypeError("the handler failed");
      this.state.items.push(item);
      this.state.count++;
    }
  }
  protected onNoted() {
    this.state.count += 100;
  }
}

/** The same, as a handler map whose entry mutates the state it is given. */
class MapBasket extends AggregateRoot<BasketState, BasketEvent> {
  constructor(id: string) {
    super(id, { items: [], count: 0 });
  }
  add(items: string[]) {
    this.raise("ItemsAdded", { items });
  }
  protected override get handlers(): EventHandlerMap<BasketState, BasketEvent> {
    return {
      ItemsAdded: (state, event) => {
        for (const item of event.data.items) {
          if (item === "boom") throw new TypeError("the handler failed");
          state.items.push(item);
          state.count++;
        }
      },
      Noted: (state) => ({ ...state, count: state.count + 100 }),
    };
  }
}

const repositoryOf = (create: (id: string) => Basket | MapBasket) => {
  const store = new InMemoryEventStore();
  return {
    store,
    repository: new AggregateRepository<Basket | MapBasket>({ store, stream: (id) => `Basket-${id}`, create }),
  };
};

const thrown = (action: () => unknown): unknown => {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error("expected it to throw");
};

// Items, with "boom" somewhere (or nowhere) among them: the handler throws after the ones before it.
const batch = fc
  .tuple(fc.array(fc.constantFrom("a", "b", "c"), { maxLength: 5 }), fc.option(fc.nat({ max: 5 })))
  .map(([items, at]) => (at === null ? items : [...items.slice(0, at), "boom", ...items.slice(at)]));

describe("a handler that throws part-way through a raise", () => {
  const makers: [string, (id: string) => Basket | MapBasket][] = [
    ["on<Type> methods", (id) => new Basket(id)],
    ["a handler map", (id) => new MapBasket(id)],
  ];
  for (const [name, create] of makers) {
    test(`${name}: the aggregate refuses every further use, and a save persists only what events explain`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(batch, { minLength: 1, maxLength: 6 }),
          fc.nat({ max: 6 }),
          async (batches, savedAfter) => {
            const { store, repository } = repositoryOf(create);
            const basket = create("1");
            let failure: unknown;
            let applied: string[] = [];
            for (const [index, items] of batches.entries()) {
              if (failure === undefined) {
                try {
                  basket.add(items);
                  applied = [...applied, ...items];
                } catch (error) {
                  failure = error;
                  // The handler's own error, as it threw it: only then is the aggregate broken.
                  expect(error).toBeInstanceOf(TypeError);
                  expect(basket.version).toBe(index);
                }
              } else {
                const error = thrown(() => basket.add(items));
                expect(error).toBeInstanceOf(AggregateBrokenError);
              }
              if (index === savedAfter && failure === undefined) await repository.save(basket);
            }
            const saved = await store.getStreamVersion("Basket-1");
            if (failure === undefined) {
              await repository.save(basket);
              expect((await repository.load("1")).currentState).toEqual({ items: applied, count: applied.length });
              return;
            }
            for (const use of [
              () => basket.currentState,
              () => basket.uncommittedEvents,
              () => basket.hasChanges,
              () => basket.toSnapshot(),
              () => basket.markCommitted(),
              () => basket.rehydrate([]),
              () => basket.restoreSnapshot({ version: 0, state: { items: [], count: 0 } }),
            ]) {
              const error = thrown(use);
              expect(isAggregateBrokenError(error)).toBe(true);
              expect(error).toMatchObject({ code: "AGGREGATE_BROKEN", aggregateId: "1", eventType: "ItemsAdded" });
              expect((error as AggregateBrokenError).cause).toBe(failure);
            }
            expect(await basket.rehydrateAsync([] as never).catch((error: unknown) => error)).toBeInstanceOf(
              AggregateBrokenError,
            );
            // The save writes nothing; what was saved before is what the events explain, and loads again.
            expect(await repository.save(basket).catch((error: unknown) => error)).toBeInstanceOf(AggregateBrokenError);
            expect(await store.getStreamVersion("Basket-1")).toBe(saved);
            if (saved > 0) {
              const loaded = await repository.load("1");
              expect(loaded.version).toBe(saved);
              expect(loaded.currentState.count).toBe(loaded.currentState.items.length);
              loaded.add(["d"]);
              await repository.save(loaded);
            }
          },
        ),
        { numRuns: 150 },
      );
    });
  }

  test("with snapshots after every event, the half-changed state is never snapshotted", async () => {
    const store = new InMemoryEventStore();
    const snapshots = new InMemorySnapshotStore();
    const repository = new AggregateRepository({
      store,
      stream: (id) => `Basket-${id}`,
      create: (id) => new Basket(id),
      snapshots: { store: snapshots, policy: everyNEvents(1) },
    });
    const basket = new Basket("1");
    basket.add(["a"]);
    await repository.save(basket);
    basket.add(["b"]);
    expect(() => basket.add(["c", "boom"])).toThrow(TypeError);
    expect(await repository.save(basket).catch((error: unknown) => error)).toBeInstanceOf(AggregateBrokenError);
    await repository.flushSnapshots();
    expect((await snapshots.load("Basket-1"))?.version).toBe(1);
    expect((await repository.load("1")).currentState).toEqual({ items: ["a"], count: 1 });
  });

  test("the error names the class, the id and the event type, never what the handler said", () => {
    const basket = new Basket("b-7");
    basket.add(["a"]);
    expect(() => basket.add(["b", "boom"])).toThrow("the handler failed");
    const error = thrown(() => basket.add(["c"])) as AggregateBrokenError;
    expect(error.name).toBe("AggregateBrokenError");
    expect(error.message).toBe(
      'Basket "b-7" cannot be used: the handler of event "ItemsAdded" threw (see cause), so its state may be half-changed. Load it again',
    );
    expect({ aggregate: error.aggregate, version: basket.version, id: basket.id }).toEqual({
      aggregate: "Basket",
      version: 1,
      id: "b-7",
    });
  });
});

describe("an event no store would take", () => {
  // What a store's append refuses, at any place in otherwise good data. (An undefined property is
  // fine: JSON leaves it out, as the stores do.)
  const unstorable = fc.constantFrom<[string, unknown]>(
    ["a Date", new Date(0)],
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["a BigInt", 1n],
    ["a function", () => 1],
    ["a symbol", Symbol("s")],
    ["a Map", new Map()],
    ["a NUL", "a\u0000b"],
    ["a lone surrogate", "\ud800"],
  );
  const placed = fc
    .tuple(unstorable, fc.array(fc.constantFrom("x", "y", 0), { maxLength: 4 }))
    .map(([[what, value], path]) => {
      let data: unknown = value;
      for (let i = path.length - 1; i >= 0; i--) data = path[i] === 0 ? [data] : { [path[i] as string]: data };
      return { what, data, path };
    });

  test("is refused by raise with a ValidationError naming where, before the state changes; the aggregate goes on", async () => {
    await fc.assert(
      fc.asyncProperty(
        placed,
        fc.array(fc.constantFrom("a", "b"), { maxLength: 3 }),
        async ({ data, path }, before) => {
          const { repository } = repositoryOf((id) => new Basket(id));
          const basket = new Basket("1");
          basket.add(before);
          const state = structuredClone(basket.currentState);
          const error = thrown(() => basket.note(data));
          expect(error).toBeInstanceOf(ValidationError);
          expect((error as ValidationError).issues[0]?.path).toEqual(["data", "note", ...path]);
          expect([basket.currentState, basket.version, basket.uncommittedEvents.length]).toEqual([state, 1, 1]);
          basket.note("fine");
          await repository.save(basket);
          expect((await repository.load("1")).currentState).toEqual(basket.currentState);
        },
      ),
      { numRuns: 100 },
    );
  });

  test("data whose getter throws is a ValidationError at data, not the caller's own error; nothing changes", () => {
    const basket = new Basket("1");
    const unreadable = {
      get note(): unknown {
        throw new Error("the caller's own text");
      },
    };
    const error = thrown(() =>
      (basket as unknown as { raise(type: string, data: unknown): void }).raise("Noted", unreadable),
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues).toEqual([
      { path: ["data"], message: "could not be read as JSON data: reading it threw" },
    ]);
    expect([basket.currentState, basket.version, basket.hasChanges]).toEqual([{ items: [], count: 0 }, 0, false]);
  });

  test("metadata and a type no store takes are refused the same way", () => {
    const basket = new Basket("1");
    const cases: [() => void, (string | number)[]][] = [
      [() => basket.note(1, { correlationId: 5 }), ["metadata", "correlationId"]],
      [() => basket.note(1, { schemaVersion: 0 }), ["metadata", "schemaVersion"]],
      [() => basket.note(1, { at: new Date(0) }), ["metadata", "at"]],
      [() => (basket as unknown as { raise(type: string, data: unknown): void }).raise(" ", null), ["type"]],
      [
        () => (basket as unknown as { raise(type: string, data: unknown): void }).raise("x".repeat(257), null),
        ["type"],
      ],
      [() => (basket as unknown as { raise(type: string, data: unknown): void }).raise("a\nb", null), ["type"]],
      [() => (basket as unknown as { raise(type: unknown, data: unknown): void }).raise(7, null), ["type"]],
      [() => (basket as unknown as { raise(type: string, data: unknown): void }).raise("Noted", undefined), ["data"]],
    ];
    for (const [raise, path] of cases) {
      const error = thrown(raise) as ValidationError;
      expect(error).toBeInstanceOf(ValidationError);
      expect(error.issues[0]?.path).toEqual(path);
    }
    expect([basket.currentState, basket.version, basket.hasChanges]).toEqual([{ items: [], count: 0 }, 0, false]);
  });
});

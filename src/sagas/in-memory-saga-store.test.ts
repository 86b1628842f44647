import { describe, test } from "bun:test";
import { InMemorySagaStore } from "../index.js";
import { registerContract, sagaStoreContract } from "../testing/index.js";

registerContract(
  sagaStoreContract({ name: "InMemorySagaStore contract", create: (settings) => new InMemorySagaStore(settings) }),
  { describe, test },
);

/** A store that cannot tell whether a timeout is pending nor when the next is due: the contract's options for it. */
class UntellingSagaStore extends InMemorySagaStore {
  protected override async readTimeoutPending(): Promise<boolean | undefined> {
    return undefined;
  }
  protected override async readNextDue(): Promise<number | undefined> {
    return undefined;
  }
}

registerContract(
  sagaStoreContract({
    name: "a saga store that cannot tell pending timeouts or the next due time",
    create: (settings) => new UntellingSagaStore(settings),
    timeoutPending: false,
    nextDue: false,
  }),
  { describe, test },
);

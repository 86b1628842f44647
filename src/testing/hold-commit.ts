import { ValidationError } from "../errors.js";
import type { AppendToStreamOptions } from "../event-store/types.js";
import type { NewEvent } from "../events/envelope.js";
import type { HeldCommit } from "./event-store-contract.js";

/** What a store's transaction offers inside its callback: appends that commit when the callback returns. */
export interface TransactionAppender {
  appendToStream(streamId: string, events: readonly NewEvent[], options?: AppendToStreamOptions): Promise<unknown>;
}

/** Thrown inside the held transaction to roll it back when a case abandons it. */
class Abandoned extends Error {
  override readonly name = "Abandoned";
}

/**
 * A {@link HeldCommit} for stores with callback transactions (`withTransaction(work)`, which
 * commits when `work` resolves and rolls back when it throws): the transaction stays open, running
 * the appends it is given, until `commit()` or `abandon()`. Use it as the event-store contract's
 * `holdCommit`: `holdCommit: (store) => holdCommitIn((work) => store.withTransaction(work))`.
 */
export function holdCommitIn<T extends TransactionAppender>(
  withTransaction: (work: (tx: T) => Promise<void>) => Promise<unknown>,
): Promise<HeldCommit> {
  if (typeof withTransaction !== "function") {
    return Promise.reject(
      new ValidationError("Invalid holdCommitIn argument", [
        { path: ["withTransaction"], message: "must be a function that runs its callback in a transaction" },
      ]),
    );
  }
  const queue: { readonly run: (tx: T) => Promise<unknown>; readonly settle: (error?: unknown) => void }[] = [];
  let end: "commit" | "abandon" | undefined;
  let wake: (() => void) | undefined;
  const signal = () => {
    wake?.();
    wake = undefined;
  };
  return new Promise<HeldCommit>((opened, failedToOpen) => {
    const held: HeldCommit = {
      append: (streamId, events, options) =>
        new Promise<void>((resolve, reject) => {
          if (end !== undefined) {
            return reject(
              new ValidationError("The held commit has ended", [
                { path: [], message: `it was ${end === "commit" ? "committed" : "abandoned"}: append before that` },
              ]),
            );
          }
          queue.push({
            run: (tx) => tx.appendToStream(streamId, events, options),
            settle: (error) => (error === undefined ? resolve() : reject(error)),
          });
          signal();
        }),
      commit: async () => {
        end = "commit";
        signal();
        await finished;
      },
      abandon: async () => {
        end ??= "abandon";
        signal();
        await finished.catch(() => undefined);
      },
    };
    const finished = withTransaction(async (tx) => {
      opened(held);
      for (;;) {
        const next = queue.shift();
        if (next !== undefined) {
          try {
            await next.run(tx);
            next.settle();
          } catch (error) {
            next.settle(error);
            throw error;
          }
        } else if (end === "commit") return;
        else if (end === "abandon") throw new Abandoned("abandoned by the contract case");
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    });
    // Opening can fail before the callback runs (no connection): the case fails with that error.
    finished.catch((error: unknown) => failedToOpen(error));
  });
}

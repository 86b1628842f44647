import { ValidationError } from "../errors.js";
import type { EventEnvelope, PendingEvent } from "../events/envelope.js";
import { deepEqual } from "../internal/deep-equal.js";
import { sealedData } from "./sealed-data.js";

/**
 * A retried append must repeat the original unchanged: the same ids with another type or data are a
 * client bug (like an Idempotency-Key reused for another body), not a retry. Metadata may differ.
 * Data is compared as JSON values, as every store keeps it (PostgreSQL's jsonb keeps neither key
 * order nor duplicate keys). Stores with idempotent appends call this once they found the stored
 * events of a retry, in the order of `events`. Data the library sealed (personal fields) is compared
 * without its sealed bytes, which differ on every seal; the store compares the plaintexts once it has
 * decrypted the stored events.
 * @throws {ValidationError} naming each event stored with another type or data.
 */
export function assertUnchangedRetry(events: readonly PendingEvent[], stored: readonly EventEnvelope[]): void {
  const changed = events.flatMap((event, i) =>
    event.type === stored[i]?.type && sameData(event.data, stored[i]?.data)
      ? []
      : [{ path: [i], message: `event ${event.id} is stored with another type or data` }],
  );
  if (changed.length > 0) {
    throw new ValidationError(
      "Event ids already used for other events: a retry must repeat the append unchanged",
      changed,
    );
  }
}

function sameData(appended: unknown, stored: unknown): boolean {
  const sealed = sealedData();
  if (sealed === undefined || !sealed.is(appended)) return deepEqual(asJson(appended), asJson(stored));
  return deepEqual(sealed.without(asJson(appended)), sealed.without(asJson(stored)));
}

function asJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value) ?? "null");
}

import { type EventPages, mapPages, PageFailure } from "../event-store/read-pages.js";
import type { EventEnvelope } from "../events/envelope.js";

/** What the reader needs of the registry (event-registry.ts, which reaches the reader through its `upcastPages`). */
interface Upcaster {
  upcastEvent(event: EventEnvelope): EventEnvelope | readonly EventEnvelope[];
}

/**
 * A read's pages upcast by `registry`, page by page (see read-pages.ts: one step per page, not one
 * promise per event). An upcaster that throws ends the store's read (its cursor or connection is
 * released) and the error is reported.
 */
export function upcastingReader(pages: EventPages, registry: Upcaster): EventPages {
  return mapPages(pages, (page) => upcastPage(page, registry));
}

/**
 * The page itself when no event changed; otherwise a new page with every event's upcasts in order.
 * An upcaster that throws cuts the page there: the events before it are still read.
 */
function upcastPage(page: readonly EventEnvelope[], registry: Upcaster): readonly EventEnvelope[] | PageFailure {
  let out: EventEnvelope[] | undefined;
  for (let i = 0; i < page.length; i++) {
    const stored = page[i] as EventEnvelope;
    let upcast: EventEnvelope | readonly EventEnvelope[];
    try {
      upcast = registry.upcastEvent(stored);
    } catch (error) {
      return new PageFailure(out ?? page.slice(0, i), error);
    }
    if (out === undefined) {
      if (upcast === stored) continue;
      out = page.slice(0, i);
    }
    if (Array.isArray(upcast)) out.push(...(upcast as readonly EventEnvelope[]));
    else out.push(upcast as EventEnvelope);
  }
  return out ?? page;
}

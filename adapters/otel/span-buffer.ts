/**
 * A span processor for request-scoped runtimes (Cloudflare Workers): it keeps ended spans in memory,
 * up to a cap, until `flushSpans` takes them at the end of a request. No timer, no background export:
 * a Worker may run nothing after its response unless it is handed to `waitUntil`. Typed structurally
 * as the SDK's `SpanProcessor`, so nothing of the SDK is imported.
 */
import { assertKnownOptions, ValidationError } from "../../src/index.js";
import type { ReadableSpanLike } from "./otlp-traces-json.js";

export interface SpanBufferOptions {
  /** Ended spans kept between two flushes; later ones are dropped (and counted). Defaults to 512. */
  readonly maxSpans?: number;
}

export class SpanBuffer {
  readonly maxSpans: number;
  #spans: ReadableSpanLike[] = [];
  #dropped = 0;

  /** @throws {ValidationError} `maxSpans` is not a positive integer. */
  constructor(options: SpanBufferOptions = {}) {
    // A misspelt `maxSpan` kept the default 512 without a word.
    assertKnownOptions(options, ["maxSpans"], "span buffer options");
    const maxSpans = options?.maxSpans ?? 512;
    if (!Number.isInteger(maxSpans) || maxSpans < 1) {
      throw new ValidationError("Invalid span buffer options", [
        { path: ["maxSpans"], message: "maxSpans must be a positive integer" },
      ]);
    }
    this.maxSpans = maxSpans;
  }

  onStart(): void {}

  onEnd(span: ReadableSpanLike): void {
    // Unsampled spans are never exported (the SDK hands every ended span to its processors).
    if ((span.spanContext().traceFlags ?? 1) % 2 === 0) return;
    if (this.#spans.length < this.maxSpans) this.#spans.push(span);
    else this.#dropped++;
  }

  /** The spans held and how many were dropped since the last call; the buffer is empty after it. */
  take(): { readonly spans: readonly ReadableSpanLike[]; readonly dropped: number } {
    const taken = { spans: this.#spans, dropped: this.#dropped };
    this.#spans = [];
    this.#dropped = 0;
    return taken;
  }

  /** Nothing to do: the export is `flushSpans`'s, at the end of each request. */
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    this.#spans = [];
    return Promise.resolve();
  }
}

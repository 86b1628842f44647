import { type Issue, ValidationError } from "../errors.js";
import { functionIssues, integerOptionIssues } from "../internal/validate.js";
import { LiveClientErrorCode, LiveStreamError } from "./errors.js";

/** Longest SSE message read by default, in characters (32 Mi): far above an event a store keeps (1 MiB by default). */
export const DEFAULT_MAX_SSE_MESSAGE_LENGTH = 32 * 1024 * 1024;

/** One Server-Sent Events message: the fields EventSource would give it. */
export interface SseMessage {
  readonly event: string;
  readonly data: string;
  readonly id: string | undefined;
}

/**
 * Parses an SSE byte stream as the HTML spec's EventSource does (fields `event`, `data`, `id`;
 * comments and `retry` ignored, though any bytes count for `onBytes`, the idle watch; CR, LF or CRLF line ends), for a client that reads it over `fetch`
 * so that it can send headers (an `Authorization`), which `EventSource` cannot.
 *
 * A message (its unfinished line and the data lines so far) longer than `maxLength` characters
 * ends the stream with a `LIVE_DISCONNECTED` error: a server that never ends a line or a message
 * must not grow the reader's memory without bound.
 * @throws {ValidationError} (at the first read) `body` is no stream, `onBytes` no function, or `maxLength`
 * no integer from 1 to 2^30: NaN bounded nothing, and 0 refused every message as the server's fault.
 */
export async function* parseSse(
  body: ReadableStream<Uint8Array>,
  onBytes?: () => void,
  maxLength = DEFAULT_MAX_SSE_MESSAGE_LENGTH,
): AsyncGenerator<SseMessage, void, undefined> {
  const issues: Issue[] = [
    ...(typeof (body as { getReader?: unknown } | null | undefined)?.getReader === "function"
      ? []
      : [{ path: ["body"], message: "body must be a ReadableStream (a response's body)" }]),
    ...functionIssues(onBytes, "onBytes"),
    ...integerOptionIssues(maxLength, "maxLength", 1024 * 1024 * 1024),
  ];
  if (issues.length > 0) throw new ValidationError("Invalid parseSse arguments", issues);
  const decoder = new TextDecoder();
  const reader = body.getReader();
  const lineEnd = /\r|\n/g;
  // Only each new chunk is searched for line ends, and a line's parts are joined once, at its end:
  // searching (and so flattening) all the text held for each chunk of a long line took time
  // quadratic in its length (a 16 MB event: 15 s on Node).
  let parts: string[] = [];
  /** Characters held for the message being read: its data lines, and the unfinished line. */
  let dataHeld = 0;
  let lineHeld = 0;
  /** The last chunk ended with a CR: a LF opening the next is the rest of that CRLF. */
  let afterCr = false;
  let event = "";
  let data: string[] = [];
  let id: string | undefined;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (!done) onBytes?.();
      const chunk = done ? decoder.decode() : decoder.decode(value, { stream: true });
      let at = 0;
      if (afterCr && chunk.length > 0) {
        if (chunk.startsWith("\n")) at = 1;
        afterCr = false;
      }
      for (;;) {
        lineEnd.lastIndex = at;
        const end = lineEnd.exec(chunk)?.index;
        if (end === undefined) {
          if (at < chunk.length) {
            parts.push(chunk.slice(at));
            lineHeld += chunk.length - at;
            if (dataHeld + lineHeld > maxLength) throw tooLong(maxLength);
          }
          break;
        }
        const tail = chunk.slice(at, end);
        const line = parts.length === 0 ? tail : parts.join("") + tail;
        parts = [];
        lineHeld = 0;
        at = end + 1;
        if (chunk[end] === "\r") {
          if (at === chunk.length) afterCr = true;
          else if (chunk[at] === "\n") at += 1;
        }
        if (line === "") {
          if (data.length > 0) yield { event: event === "" ? "message" : event, data: data.join("\n"), id };
          event = "";
          data = [];
          dataHeld = 0;
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") event = value;
        else if (field === "data") {
          data.push(value);
          // As the message will carry it: its data lines joined by line feeds.
          dataHeld += value.length + (data.length > 1 ? 1 : 0);
          if (dataHeld > maxLength) throw tooLong(maxLength);
        } else if (field === "id" && !value.includes("\0")) id = value;
      }
      // What is left without a line end is an unfinished message: dropped, as EventSource does.
      if (done) return;
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => {});
  }
}

function tooLong(maxLength: number): LiveStreamError {
  return new LiveStreamError(
    LiveClientErrorCode.Disconnected,
    `The live stream sent a message longer than ${maxLength} characters (maxMessageLength)`,
  );
}

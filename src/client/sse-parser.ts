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
 */
export async function* parseSse(
  body: ReadableStream<Uint8Array>,
  onBytes?: () => void,
): AsyncGenerator<SseMessage, void, undefined> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  const lineEnd = /\r|\n/g;
  // Only each new chunk is searched for line ends, and a line's parts are joined once, at its end:
  // searching (and so flattening) all the text held for each chunk of a long line took time
  // quadratic in its length (a 16 MB event: 15 s on Node).
  let parts: string[] = [];
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
          if (at < chunk.length) parts.push(chunk.slice(at));
          break;
        }
        const tail = chunk.slice(at, end);
        const line = parts.length === 0 ? tail : parts.join("") + tail;
        parts = [];
        at = end + 1;
        if (chunk[end] === "\r") {
          if (at === chunk.length) afterCr = true;
          else if (chunk[at] === "\n") at += 1;
        }
        if (line === "") {
          if (data.length > 0) yield { event: event === "" ? "message" : event, data: data.join("\n"), id };
          event = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
        else if (field === "id" && !value.includes("\0")) id = value;
      }
      // What is left without a line end is an unfinished message: dropped, as EventSource does.
      if (done) return;
    }
  } finally {
    reader.releaseLock();
    await body.cancel().catch(() => {});
  }
}

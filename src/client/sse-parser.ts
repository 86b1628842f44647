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
  let text = "";
  let event = "";
  let data: string[] = [];
  let id: string | undefined;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (!done) {
        onBytes?.();
        text += decoder.decode(value, { stream: true });
      }
      for (;;) {
        const end = text.search(/\r\n|\r|\n/);
        // A lone CR at the end may be the first half of a CRLF: wait for more, unless no more comes.
        if (end < 0 || (!done && text[end] === "\r" && end === text.length - 1)) break;
        const line = text.slice(0, end);
        text = text.slice(end + (text.startsWith("\r\n", end) ? 2 : 1));
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

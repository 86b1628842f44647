import { afterEach, describe, expect, test } from "bun:test";
import { jsonLogger, type LiveConnection, type LiveEndReason, type LiveItem, setLogger } from "../../src/index.js";
import { sseBody } from "./live-sse.js";

afterEach(() => setLogger(undefined));

async function readAll(body: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>)
    text += decoder.decode(chunk, { stream: true });
  return text;
}

describe("SSE body", () => {
  test("a connection whose next() fails ends the stream with `end` error and is closed, the error logged (not sent)", async () => {
    const lines: string[] = [];
    setLogger({ ...jsonLogger(), error: (message) => void lines.push(message) });
    let ended: LiveEndReason | undefined;
    const connection = {
      position: 7,
      get ended() {
        return ended;
      },
      done: new Promise<LiveEndReason>(() => {}),
      next: async (): Promise<LiveItem | undefined> => {
        if (ended !== undefined) return { kind: "end", reason: ended };
        throw new Error("connection to postgres://app:secret@db refused");
      },
      close: (reason: LiveEndReason = "closed") => {
        ended ??= reason;
      },
    } satisfies LiveConnection;
    const text = await readAll(sseBody(connection, 1000, new AbortController().signal));
    expect(text).toBe(
      `retry: 1000\nevent: open\nid: 7\ndata: {"position":7}\n\nevent: end\ndata: {"reason":"error"}\n\n`,
    );
    expect(ended).toBe("error");
    expect(lines).toEqual(["live subscription failed"]);
  });
});

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { parseSse, type SseMessage } from "./sse-parser.js";

/** The wire's UTF-8 bytes, cut at byte offsets (a cut may fall inside a character or a CRLF). */
function streamOf(wire: string, cuts: readonly number[]): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(wire);
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  return new ReadableStream({
    start(controller) {
      for (const [i, start] of [0, ...points].entries())
        controller.enqueue(bytes.slice(start, points[i] ?? bytes.length));
      controller.close();
    },
  });
}

async function parseAll(wire: string, cuts: readonly number[]): Promise<SseMessage[]> {
  const messages: SseMessage[] = [];
  for await (const message of parseSse(streamOf(wire, cuts))) messages.push(message);
  return messages;
}

describe("parseSse", () => {
  // Any script (multi-byte UTF-8), no line end.
  const text = fc.string({ unit: "grapheme", maxLength: 8 }).map((t) => t.replace(/[\r\n]/g, "_"));
  const message = fc.record({
    event: fc.constantFrom("message", "end"),
    data: fc.array(text, { minLength: 1, maxLength: 3 }),
    id: fc.option(fc.stringMatching(/^\d{1,6}$/), { nil: undefined }),
  });

  test("gives back the messages written, however the bytes are split and whatever the line ends (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(message, { maxLength: 6 }),
        fc.constantFrom("\n", "\r\n", "\r"),
        fc.array(fc.nat(), { maxLength: 8 }),
        async (messages, eol, cuts) => {
          let id: string | undefined;
          const expected = messages.map((m) => {
            id = m.id ?? id;
            return { event: m.event, data: m.data.join("\n"), id };
          });
          const wire = messages
            .map(
              (m) =>
                `: comment${eol}${m.event === "message" ? "" : `event: ${m.event}${eol}`}${m.id === undefined ? "" : `id: ${m.id}${eol}`}${m.data.map((d) => `data: ${d}${eol}`).join("")}${eol}`,
            )
            .join("");
          expect(await parseAll(wire, cuts)).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("a long event arriving in many chunks is parsed in time linear in its length", async () => {
    // 24 MB in chunks of 16 KiB. Searching all the text held for each chunk (as the parser once did)
    // took about 4 s here on Bun, and longer on Node; reading it once takes tens of milliseconds.
    const payload = "x".repeat(24 * 1024 * 1024);
    const wire = new TextEncoder().encode(`id: 1\ndata: ${payload}\n\n`);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < wire.length; at += 16 * 1024) controller.enqueue(wire.subarray(at, at + 16 * 1024));
        controller.close();
      },
    });
    const started = performance.now();
    const messages: SseMessage[] = [];
    for await (const message of parseSse(body)) messages.push(message);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(messages.length).toBe(1);
    expect(messages[0]?.data.length).toBe(payload.length);
  });
});

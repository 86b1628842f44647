import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { parseSse, type SseMessage } from "./sse-parser.js";

function streamOf(chunks: readonly string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function parseAll(chunks: readonly string[]): Promise<SseMessage[]> {
  const messages: SseMessage[] = [];
  for await (const message of parseSse(streamOf(chunks))) messages.push(message);
  return messages;
}

describe("parseSse", () => {
  const text = fc.stringMatching(/^[^\r\n]{0,20}$/);
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
          const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((a, b) => a - b);
          const chunks = [0, ...points].map((start, i) => wire.slice(start, points[i] ?? wire.length));
          expect(await parseAll(chunks)).toEqual(expected);
        },
      ),
    );
  });
});

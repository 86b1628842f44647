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

  test("a long event arriving in many chunks is parsed whole", async () => {
    // 24 MB in chunks of 16 KiB. Searching all the text held for each chunk (as the parser once did)
    // took about 4 s here on Bun and 15 s on Node; reading it once takes tens of milliseconds. (Speed
    // is not asserted here: a test on a shared machine measures the machine.)
    const payload = "x".repeat(24 * 1024 * 1024);
    const wire = new TextEncoder().encode(`id: 1\ndata: ${payload}\n\n`);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < wire.length; at += 16 * 1024) controller.enqueue(wire.subarray(at, at + 16 * 1024));
        controller.close();
      },
    });
    const messages: SseMessage[] = [];
    for await (const message of parseSse(body)) messages.push(message);
    expect(messages.length).toBe(1);
    expect(messages[0]?.data.length).toBe(payload.length);
  });

  test("a message longer than maxLength ends the stream with LIVE_DISCONNECTED; one at it is read", async () => {
    const read = async (wire: string, maxLength: number) => {
      const messages: SseMessage[] = [];
      try {
        for await (const message of parseSse(streamOf(wire, [3, 7]), undefined, maxLength)) messages.push(message);
      } catch (error) {
        return { messages, error };
      }
      return { messages, error: undefined };
    };
    // Data of 10 characters: two lines of 4 and 5, joined by a line feed.
    const wire = "event: message\ndata: abcd\n: a comment does not count\ndata: efghi\n\ndata: next\n\n";
    expect(await read(wire, 10)).toEqual({
      messages: [
        { event: "message", data: "abcd\nefghi", id: undefined },
        { event: "message", data: "next", id: undefined },
      ],
      error: undefined,
    });
    const over = await read(wire, 9);
    expect(over.messages).toEqual([]);
    expect(over.error).toMatchObject({ code: "LIVE_DISCONNECTED" });
    expect(String((over.error as Error).message)).toContain("longer than 9 characters");
  });

  test("a line that never ends is refused once it passes maxLength, without reading on", async () => {
    let pulls = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls++;
        controller.enqueue(new TextEncoder().encode("data: ".concat("x".repeat(1000))));
      },
    });
    const reading = (async () => {
      for await (const _ of parseSse(endless, undefined, 10_000)) expect.unreachable();
    })();
    await expect(reading).rejects.toMatchObject({ code: "LIVE_DISCONNECTED" });
    // 1,006 characters a chunk: the 10th passes 10,000 (the stream may have been asked for one more).
    expect(pulls).toBeLessThanOrEqual(11);
  });
  test("arguments it cannot work with are a ValidationError at the first read, not a TypeError or a bound of nothing", async () => {
    const body = () => new Response("data: x\n\n").body as ReadableStream<Uint8Array>;
    const calls: [string, () => AsyncGenerator<SseMessage>][] = [
      ["body", () => parseSse(undefined as never)],
      ["body", () => parseSse(null as never)],
      ["body", () => parseSse("data: x\n\n" as never)],
      ["onBytes", () => parseSse(body(), 5 as never)],
      // NaN bounded nothing; 0 and -1 refused every message as a server's too long one.
      ["maxLength", () => parseSse(body(), undefined, Number.NaN)],
      ["maxLength", () => parseSse(body(), undefined, 0)],
      ["maxLength", () => parseSse(body(), undefined, -1)],
      ["maxLength", () => parseSse(body(), undefined, "10" as never)],
    ];
    for (const [path, call] of calls) {
      let thrown: unknown;
      try {
        for await (const _ of call()) {
          // nothing is read
        }
      } catch (error) {
        thrown = error;
      }
      expect({ path, thrown }).toMatchObject({
        path,
        thrown: { code: "VALIDATION_FAILED", issues: [expect.objectContaining({ path: [path] })] },
      });
    }
    const read: SseMessage[] = [];
    for await (const message of parseSse(body(), () => {}, 1)) read.push(message);
    expect(read).toEqual([{ event: "message", data: "x", id: undefined }]);
  });
});

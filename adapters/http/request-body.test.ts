import { describe, expect, test } from "bun:test";
import { UnsupportedMediaTypeError } from "./errors.js";
import { isJsonMediaType, readJsonBody } from "./request-body.js";

const post = (body: BodyInit | null, headers: Record<string, string> = { "content-type": "application/json" }) =>
  new Request("http://localhost/x", { method: "POST", body, headers });

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

describe("readJsonBody", () => {
  test("parses JSON and returns its exact bytes", async () => {
    const body = await readJsonBody(post('{"a":1}'));
    expect(body.value).toEqual({ a: 1 });
    expect(new TextDecoder().decode(body.bytes)).toBe('{"a":1}');
  });

  test("joins a body streamed in chunks", async () => {
    const body = await readJsonBody(post(streamOf(['{"a":', "[1,2", "]}"])));
    expect(body.value).toEqual({ a: [1, 2] });
  });

  test("no body, or an empty one without a type, is undefined", async () => {
    expect((await readJsonBody(post(null, {}))).value).toBeUndefined();
    expect((await readJsonBody(post(streamOf([]), {}))).value).toBeUndefined();
  });

  test("accepts +json types and parameters", () => {
    expect(isJsonMediaType("application/json; charset=utf-8")).toBe(true);
    expect(isJsonMediaType("Application/JSON")).toBe(true);
    expect(isJsonMediaType("application/merge-patch+json")).toBe(true);
    expect(isJsonMediaType("text/json")).toBe(false);
    expect(isJsonMediaType("application/jsonx")).toBe(false);
    expect(isJsonMediaType("text/plain")).toBe(false);
    // JSON is UTF-8: another charset would be decoded as other text than the sender meant.
    expect(isJsonMediaType('application/json; charset="UTF-8"')).toBe(true);
    expect(isJsonMediaType("application/json;charset=utf8; profile=x")).toBe(true);
    expect(isJsonMediaType("application/json; charset=latin1")).toBe(false);
    expect(isJsonMediaType("application/merge-patch+json; Charset=ISO-8859-1")).toBe(false);
  });

  test("refuses a body of another media type (415), or one with content but no type", async () => {
    expect(await codeOf(readJsonBody(post('{"a":1}', { "content-type": "text/plain" })))).toBe(
      "UNSUPPORTED_MEDIA_TYPE",
    );
    expect(await codeOf(readJsonBody(post(streamOf(['{"a":1}']), {})))).toBe("UNSUPPORTED_MEDIA_TYPE");
  });

  test("refuses a content-coded body (415), streamed or of declared length, whatever its bytes; identity is no coding", async () => {
    const json = { "content-type": "application/json" };
    for (const coding of ["gzip", "br", "deflate", "GZIP", "gzip, identity", "x-custom"]) {
      // Bytes that claim a coding but are plain JSON were parsed as if uncoded.
      for (const request of [
        post('{"a":1}', { ...json, "content-encoding": coding }),
        post(streamOf(['{"a":1}']), { ...json, "content-encoding": coding }),
      ]) {
        try {
          await readJsonBody(request);
          throw new Error(`accepted Content-Encoding ${coding}`);
        } catch (error) {
          expect(error).toBeInstanceOf(UnsupportedMediaTypeError);
          expect((error as UnsupportedMediaTypeError).contentEncoding).toBe(coding);
          expect((error as Error).message).toContain("Content-Encoding");
        }
      }
    }
    for (const coding of ["identity", " Identity ", ""]) {
      expect((await readJsonBody(post('{"a":1}', { ...json, "content-encoding": coding }))).value).toEqual({ a: 1 });
    }
    // No body, no coding to refuse.
    expect((await readJsonBody(post(null, { ...json, "content-encoding": "gzip" }))).value).toBeUndefined();
  });

  test("refuses a transfer coding other than chunked (415): Node's server undoes chunked only and hands the routes the rest still coded", async () => {
    const json = { "content-type": "application/json" };
    for (const coding of ["gzip, chunked", "x-custom, chunked", "identity, chunked", "deflate"]) {
      // As a node:http server passes it: the header, and the bytes after undoing the chunks (here plain JSON).
      const error = await readJsonBody(post(streamOf(['{"a":1}']), { ...json, "transfer-encoding": coding })).then(
        () => new Error(`accepted Transfer-Encoding ${coding}`),
        (refused: unknown) => refused,
      );
      expect(error).toBeInstanceOf(UnsupportedMediaTypeError);
      expect((error as Error).message).toBe(
        `Transfer-Encoding "${coding}" is not supported; send the body chunked or with a Content-Length`,
      );
      expect((error as UnsupportedMediaTypeError).contentEncoding).toBeUndefined();
    }
    for (const coding of ["chunked", " Chunked "]) {
      const request = post(streamOf(['{"a":1}']), { ...json, "transfer-encoding": coding });
      expect((await readJsonBody(request)).value).toEqual({ a: 1 });
    }
  });

  test("refuses a declared length over the limit without reading, and a streamed body once it passes the limit", async () => {
    expect(
      await codeOf(readJsonBody(post("{}", { "content-type": "application/json", "content-length": "5000" }), 100)),
    ).toBe("PAYLOAD_TOO_LARGE");
    const big = JSON.stringify({ text: "x".repeat(200) });
    expect(await codeOf(readJsonBody(post(streamOf([big.slice(0, 100), big.slice(100)])), 150))).toBe(
      "PAYLOAD_TOO_LARGE",
    );
    expect(await codeOf(readJsonBody(post(big), 150))).toBe("PAYLOAD_TOO_LARGE");
    expect((await readJsonBody(post(big), big.length)).value).toEqual({ text: "x".repeat(200) });
  });

  test("a body that breaks off before its end (the client went away) is a ValidationError, not a server error", async () => {
    const broken = () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"a":'));
        },
        pull(controller) {
          controller.error(new Error("connection reset"));
        },
      });
    const init = { method: "POST", headers: { "content-type": "application/json" }, duplex: "half" };
    const streamed = new Request("http://localhost/x", { ...init, body: broken() } as RequestInit);
    expect(await codeOf(readJsonBody(streamed))).toBe("VALIDATION_FAILED");
    const declared = new Request("http://localhost/x", {
      ...init,
      body: broken(),
      headers: { ...init.headers, "content-length": "20" },
    } as RequestInit);
    expect(await codeOf(readJsonBody(declared))).toBe("VALIDATION_FAILED");
    // A body a middleware read already is the server's mistake: left a TypeError (a 500).
    const used = post("{}");
    await used.text();
    await expect(readJsonBody(used)).rejects.toBeInstanceOf(TypeError);
  });

  test("refuses malformed JSON and invalid UTF-8 as validation errors", async () => {
    for (const bad of ["{", "{'a':1}", "undefined", '{"a":1}}', "NaN"]) {
      expect(await codeOf(readJsonBody(post(bad)))).toBe("VALIDATION_FAILED");
    }
    expect(await codeOf(readJsonBody(post(new Uint8Array([0x22, 0xff, 0xfe, 0x22]))))).toBe("VALIDATION_FAILED");
  });
});

describe("readJsonBody nesting depth", () => {
  test("a body deeper than the limit is a ValidationError naming it, declared length or streamed", async () => {
    const deep = `${"[".repeat(65)}${"]".repeat(65)}`;
    for (const request of [post(deep), post(streamOf([deep.slice(0, 50), deep.slice(50)]))]) {
      try {
        await readJsonBody(request);
        throw new Error("accepted");
      } catch (error) {
        expect((error as { code?: string }).code).toBe("VALIDATION_FAILED");
        expect((error as Error).message).toContain("64");
      }
    }
    expect((await readJsonBody(post(`${"[".repeat(64)}${"]".repeat(64)}`))).value).toBeArray();
    expect(await codeOf(readJsonBody(post('[[["]]]]]]"]]]'), 1024, 3))).toBeUndefined();
    expect(await codeOf(readJsonBody(post("[[[[]]]]"), 1024, 3))).toBe("VALIDATION_FAILED");
  });
});

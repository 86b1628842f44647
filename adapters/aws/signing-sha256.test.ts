/**
 * The pure-JS SHA-256 and HMAC-SHA256 against the FIPS 180-4 / RFC 4231 examples and against Web
 * Crypto on generated inputs: every length around the block and padding boundaries, any UTF-16
 * string (lone surrogates included), keys shorter and longer than a block.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { hmac, hmacHex, hmacKey, sha256, sha256Hex } from "./signing-sha256.js";

const hex = (buffer: ArrayBuffer | Uint8Array) =>
  [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
const utf8 = (text: string) => new TextEncoder().encode(text);
/** A copy over a plain ArrayBuffer, as Web Crypto's types want. */
const own = (data: Uint8Array) => new Uint8Array(data);

async function webHmac(key: Uint8Array, message: Uint8Array): Promise<string> {
  const imported = await crypto.subtle.importKey("raw", own(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return hex(await crypto.subtle.sign("HMAC", imported, own(message)));
}

describe("SHA-256 and HMAC-SHA256", () => {
  test("match the FIPS 180-4 and RFC 4231 examples", () => {
    expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).toBe(
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
    // RFC 4231 test case 2: a key shorter than a block.
    expect(hmacHex(hmacKey("Jefe"), "what do ya want for nothing?")).toBe(
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );
  });

  test("agree with Web Crypto on every length from 0 to 300 bytes", async () => {
    for (let length = 0; length <= 300; length++) {
      const text = "x".repeat(length);
      expect(sha256Hex(text)).toBe(hex(await crypto.subtle.digest("SHA-256", utf8(text))));
    }
  });

  test("agree with Web Crypto on any string, as UTF-8", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: "binary", maxLength: 300 }),
        fc.string({ maxLength: 80 }),
        async (text, tail) => {
          const message = text + tail;
          expect(sha256Hex(message)).toBe(hex(await crypto.subtle.digest("SHA-256", utf8(message))));
          expect(hex(sha256(utf8(message)))).toBe(hex(await crypto.subtle.digest("SHA-256", utf8(message))));
        },
      ),
      { numRuns: 300 },
    );
  });

  test("strings longer than any hashed before (the encoding buffer grows) hash right", async () => {
    for (const length of [2_000, 5_000, 20_000]) {
      const text = "é流".repeat(length);
      expect(sha256Hex(text)).toBe(hex(await crypto.subtle.digest("SHA-256", utf8(text))));
      const key = hmacKey(`k${text}`);
      expect(hmacHex(key, `${text}!`)).toBe(await webHmac(utf8(`k${text}`), utf8(`${text}!`)));
    }
  });

  test("lone surrogates hash as U+FFFD, as TextEncoder writes them", async () => {
    for (const text of ["\ud800", "a\udc00b", "\udbff\ud800", "🚀\ud83d"]) {
      expect(sha256Hex(text)).toBe(hex(await crypto.subtle.digest("SHA-256", utf8(text))));
    }
  });

  test("HMAC agrees with Web Crypto for keys of any length (beyond a block: hashed first) and any message", async () => {
    await fc.assert(
      fc.asyncProperty(
        // Web Crypto refuses an empty HMAC key; SigV4 keys never are (`AWS4` + secret, then 32-byte MACs).
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc.string({ unit: "grapheme", maxLength: 200 }),
        async (key, message) => {
          const expected = await webHmac(key, utf8(message));
          expect(hmacHex(hmacKey(key), message)).toBe(expected);
          expect(hex(hmac(hmacKey(key), message))).toBe(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { runtimeBuiltin } from "../env.js";
import { InMemorySubjectKeyStore, isPersonalDataError } from "../index.js";
import { type CompactMarker, openCompact, openCompactNow, sealCompactNow } from "./compact-format.js";
import { openFields, openFieldsNow, type SealedFields, sealFields, sealFieldsNow } from "./field-crypto.js";
import { newSubjectKey, type WebCryptoKey } from "./subject-key-store.js";
import { hasSyncKey, type NodeCrypto, openSync, passesKnownAnswer, rememberSyncKey, sealSync } from "./sync-aes-gcm.js";

/** Two CryptoKeys of the same bytes: one with a synchronous context, one that only Web Crypto can use. */
async function keyPair(raw: Uint8Array<ArrayBuffer>): Promise<{ sync: WebCryptoKey; web: WebCryptoKey }> {
  const usages: KeyUsage[] = ["encrypt", "decrypt"];
  const sync = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, usages);
  rememberSyncKey(sync, raw);
  const web = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, usages);
  return { sync, web };
}

const bytes = (min: number, max: number) =>
  fc.uint8Array({ minLength: min, maxLength: max }).map((b) => new Uint8Array(b) as Uint8Array<ArrayBuffer>);
const name = fc.string({ minLength: 1, maxLength: 40 });

describe("synchronous AES-GCM (node:crypto through process.getBuiltinModule)", () => {
  test("Bun has it: keys made by newSubjectKey get a synchronous context", async () => {
    // If this fails, every other test here would pass on Web Crypto alone and prove nothing.
    expect(passesKnownAnswer(runtimeBuiltin<NodeCrypto>("node:crypto"))).toBeDefined();
    expect(hasSyncKey((await newSubjectKey()).key)).toBe(true);
  });

  test("a runtime whose node:crypto is missing, throws or answers wrongly keeps Web Crypto", () => {
    const real = runtimeBuiltin<NodeCrypto>("node:crypto") as NodeCrypto;
    expect(passesKnownAnswer(undefined)).toBeUndefined();
    const throwing = {
      ...real,
      createCipheriv: () => {
        throw new Error("aes-256-gcm is not supported");
      },
    };
    expect(passesKnownAnswer(throwing as unknown as NodeCrypto)).toBeUndefined();
    const wrong: NodeCrypto = {
      createSecretKey: real.createSecretKey,
      createDecipheriv: real.createDecipheriv,
      createCipheriv: (algorithm, key, iv) =>
        real.createCipheriv(
          algorithm,
          key,
          iv.map((b) => b ^ 1),
        ),
    };
    expect(passesKnownAnswer(wrong)).toBeUndefined();
    // Opening anything, even an altered ciphertext: not AES-GCM.
    const unauthenticated: NodeCrypto = {
      ...real,
      createDecipheriv: (algorithm, key, iv) => {
        const inner = real.createDecipheriv(algorithm, key, iv);
        return {
          ...inner,
          setAAD: () => undefined,
          setAuthTag: () => undefined,
          update: (d) => inner.update(d),
          final: () => new Uint8Array(0),
        };
      },
    };
    expect(passesKnownAnswer(unauthenticated)).toBeUndefined();
  });

  test("byte for byte the same ciphertext as Web Crypto, and each opens the other's (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(bytes(32, 32), bytes(12, 12), bytes(0, 64), bytes(0, 300), async (raw, iv, aad, plain) => {
        const { sync, web } = await keyPair(raw);
        const params = { name: "AES-GCM", iv, additionalData: aad };
        const fromWeb = new Uint8Array(await crypto.subtle.encrypt(params, web, plain));
        const fromSync = sealSync(sync, iv, aad, plain) as Uint8Array;
        expect(Array.from(fromSync)).toEqual(Array.from(fromWeb));
        const apart = (sealed: Uint8Array) => [sealed.subarray(0, sealed.length - 16), sealed.subarray(-16)] as const;
        expect(Array.from(openSync(sync, iv, aad, ...apart(fromWeb)) as Uint8Array)).toEqual(Array.from(plain));
        const altered = fromSync.slice();
        altered[altered.length - 1] = (altered[altered.length - 1] as number) ^ 0x80;
        expect(openSync(sync, iv, aad, ...apart(altered))).toBeUndefined();
        await expect(crypto.subtle.decrypt(params, web, altered)).rejects.toBeDefined();
      }),
      { numRuns: 100 },
    );
  });

  test("sealed fields cross both ways for any values, subject and context; a foreign context is tampered on both (fast-check)", async () => {
    const { sync, web } = await keyPair(crypto.getRandomValues(new Uint8Array(32)));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.jsonValue(), { minLength: 1, maxLength: 4 }),
        name,
        fc.array(name, { maxLength: 3 }),
        async (values, subject, context) => {
          const json = JSON.parse(JSON.stringify(values)) as unknown[];
          const fields = json.map((_, i) => `f${i}`);
          const bySync = sealFieldsNow(sync, subject, context, fields, json) as SealedFields;
          const byWeb = await sealFields(web, subject, context, fields, json);
          expect(await openFields(web, bySync, context, ["f0"])).toEqual(json);
          expect(openFieldsNow(sync, byWeb, context, ["f0"])).toEqual(json);
          // The stored shape is the same whichever made it.
          expect(Object.keys(bySync)).toEqual(Object.keys(byWeb));
          expect(bySync.iv.length).toBe(byWeb.iv.length);
          expect(bySync.data.length).toBe(byWeb.data.length);
          const elsewhere = [...context, "elsewhere"];
          const syncError = (() => {
            try {
              openFieldsNow(sync, byWeb, elsewhere, ["f0"]);
            } catch (error) {
              return error;
            }
          })();
          const webError = await openFields(web, bySync, elsewhere, ["f0"]).catch((e: unknown) => e);
          for (const error of [syncError, webError]) {
            expect(isPersonalDataError(error) && (error as { reason: string }).reason).toBe("tampered");
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  test("values of any size, in any order of sizes, seal synchronously and open through Web Crypto, in either format (the seal's buffers are reused and grown)", async () => {
    const { sync, web } = await keyPair(crypto.getRandomValues(new Uint8Array(32)));
    const sizes = [1, 5_000, 3, 40_000, 300, 2];
    const sealed = sizes.map((size, i) => {
      // Non-ASCII, so the UTF-8 plaintext is longer than the text.
      const values = [`é${"ü".repeat(size)}`, i];
      return { values, sealed: sealFieldsNow(sync, "s", ["event", `e${i}`], ["a", "b"], values) as SealedFields };
    });
    for (const { values, sealed: one } of sealed) {
      expect(await openFields(web, one, ["event", `e${values[1]}`], ["a"])).toEqual(values);
      expect(openFieldsNow(sync, one, ["event", `e${values[1]}`], ["a"])).toEqual(values);
    }
    // Format /3 writes the IV and the ciphertext after it into one buffer: sizes one apart, rising past
    // its first size, grow it to exactly what each needs.
    const compactSizes = [...sizes, ...Array.from({ length: 40 }, (_, i) => 480 + i)];
    const markers = compactSizes.map((size, i) => {
      const values = [`é${"ü".repeat(size)}`, i];
      return { values, marker: sealCompactNow(sync, "s", ["event", `e${i}`], ["a", "b"], values) as CompactMarker };
    });
    for (const { values, marker } of markers) {
      expect(await openCompact(web, marker, ["event", `e${values[1]}`])).toEqual(values);
      expect(openCompactNow(sync, marker, ["event", `e${values[1]}`])).toEqual(values);
    }
  });

  test("a key without a context (a third-party store's) seals through Web Crypto, and sealFieldsNow declines it", async () => {
    const { web } = await keyPair(crypto.getRandomValues(new Uint8Array(32)));
    expect(hasSyncKey(web)).toBe(false);
    expect(sealFieldsNow(web, "s", [], ["a"], [1])).toBeUndefined();
    expect(await openFields(web, await sealFields(web, "s", [], ["a"], [1]), [], ["a"])).toEqual([1]);
  });

  test("deleting a subject drops its key's synchronous context at once", async () => {
    const keys = new InMemorySubjectKeyStore();
    const key = await keys.createOrGet("subject-1");
    expect(hasSyncKey(key)).toBe(true);
    await keys.delete("subject-1");
    expect(hasSyncKey(key)).toBe(false);
    expect(await keys.get("subject-1")).toEqual({ status: "erased" });
  });
});

import { ErrorCode } from "../errors.js";
import type { PendingEvent } from "../events/envelope.js";
import { ulid } from "../ids.js";
import { personalData } from "../personal-data/personal-data.js";
import { MAX_SUBJECT_ID_LENGTH, type SubjectKeyStore, type WebCryptoKey } from "../personal-data/subject-key-store.js";
import { assert, assertEqual, assertRejects } from "./assert.js";
import { type ContractCase, type ContractSuite, checkContractOptions } from "./contract.js";

/** What a store under test is made with: its cache's clock and age limit must be these. */
export interface SubjectKeyStoreContractSettings {
  readonly now: () => number;
  readonly cacheTtlMs: number;
}

export interface SubjectKeyStoreContractOptions {
  readonly name: string;
  /**
   * A store over the suite's backend. Each call must give a new instance (a cache of its own) over
   * the same keys, as two processes sharing one database see them.
   */
  readonly create: (settings: SubjectKeyStoreContractSettings) => SubjectKeyStore | Promise<SubjectKeyStore>;
}

const CACHE_TTL_MS = 60_000;
const encoder = new TextEncoder();

/** Encrypts with one key and decrypts with another: true when they are the same key. */
async function sameKey(a: WebCryptoKey, b: WebCryptoKey): Promise<boolean> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, a, encoder.encode("probe"));
  return crypto.subtle.decrypt({ name: "AES-GCM", iv }, b, sealed).then(
    () => true,
    () => false,
  );
}

/**
 * The behaviour every SubjectKeyStore must have: one key per subject however many create it at once,
 * keys that never leave as bytes, deletion that is final and that no cache outlives (at once in the
 * process that deleted, within the cache's age limit in others). Subject ids are fresh ULIDs per
 * case, so a backend may keep one table for all cases.
 */
export function subjectKeyStoreContract(options: SubjectKeyStoreContractOptions): ContractSuite {
  checkContractOptions("subjectKeyStoreContract", options, { functions: ["create"] });
  const cases: ContractCase[] = [];
  const add = (name: string, run: (open: () => Promise<SubjectKeyStore>, clock: { now: number }) => Promise<void>) =>
    cases.push({
      name,
      run: async () => {
        const clock = { now: Date.now() };
        const open = async () => options.create({ now: () => clock.now, cacheTtlMs: CACHE_TTL_MS });
        await run(open, clock);
      },
    });

  add("a subject without a key is unknown; createOrGet makes one that get then returns", async (open) => {
    const store = await open();
    const subject = `subject-${ulid()}`;
    assertEqual((await store.get(subject)).status, "unknown", "before");
    const key = await store.createOrGet(subject);
    const lookup = await store.get(subject);
    assert(lookup.status === "active", "active after createOrGet");
    assert(await sameKey(key, lookup.key), "get returns the key createOrGet made");
    assert(await sameKey(key, await store.createOrGet(subject)), "createOrGet again returns the same key");
  });

  add("keys are AES-GCM 256 and not extractable", async (open) => {
    const key = await (await open()).createOrGet(`subject-${ulid()}`);
    assertEqual(key.extractable, false, "extractable");
    assertEqual((key.algorithm as AesKeyAlgorithm).name, "AES-GCM", "algorithm");
    assertEqual((key.algorithm as AesKeyAlgorithm).length, 256, "length");
    const exported = await crypto.subtle.exportKey("raw", key).then(
      () => true,
      () => false,
    );
    assertEqual(exported, false, "exportKey refuses");
  });

  add("each subject has its own key", async (open) => {
    const store = await open();
    const [a, b] = await Promise.all([store.createOrGet(`a-${ulid()}`), store.createOrGet(`b-${ulid()}`)]);
    assertEqual(await sameKey(a, b), false);
  });

  add("concurrent createOrGet calls, through one store and through several, get one key", async (open) => {
    const stores = [await open(), await open(), await open()];
    const subject = `subject-${ulid()}`;
    const keys = await Promise.all(stores.flatMap((store) => [store.createOrGet(subject), store.createOrGet(subject)]));
    for (const key of keys) assert(await sameKey(keys[0] as WebCryptoKey, key), "one key");
  });

  add("another instance over the same backend sees the key", async (open) => {
    const subject = `subject-${ulid()}`;
    const key = await (await open()).createOrGet(subject);
    const lookup = await (await open()).get(subject);
    assert(lookup.status === "active" && (await sameKey(key, lookup.key)), "the other instance's key");
  });

  add("delete erases the subject at once in the deleting store, cached key or not", async (open) => {
    const store = await open();
    const subject = `subject-${ulid()}`;
    await store.createOrGet(subject);
    await store.get(subject);
    await store.delete(subject);
    assertEqual((await store.get(subject)).status, "erased", "after delete");
    await assertRejects(() => store.createOrGet(subject), ErrorCode.SubjectErased, "createOrGet after delete");
  });

  add("deleting is final and idempotent, and a subject that never had a key can be erased", async (open) => {
    const store = await open();
    const subject = `subject-${ulid()}`;
    await store.createOrGet(subject);
    await store.delete(subject);
    await store.delete(subject);
    const never = `never-${ulid()}`;
    await store.delete(never);
    const fresh = await open();
    for (const s of [subject, never]) {
      assertEqual((await fresh.get(s)).status, "erased", `a fresh instance sees ${s} erased`);
      await assertRejects(() => fresh.createOrGet(s), ErrorCode.SubjectErased, "no key is made again");
    }
  });

  add("a delete through another instance is seen once the cache's age limit has passed", async (open, clock) => {
    const [reader, eraser] = [await open(), await open()];
    const subject = `subject-${ulid()}`;
    await reader.createOrGet(subject);
    await eraser.delete(subject);
    clock.now += CACHE_TTL_MS;
    assertEqual((await reader.get(subject)).status, "erased", "after the age limit");
    await assertRejects(() => reader.createOrGet(subject), ErrorCode.SubjectErased, "createOrGet");
  });

  add("empty, oversized, ill-formed and non-string subject ids are a ValidationError", async (open) => {
    const store = await open();
    const bad = ["", " ", "x".repeat(MAX_SUBJECT_ID_LENGTH + 1), `${ulid()}\uD800`, "a\u0000b", 42, undefined];
    for (const subject of bad as string[]) {
      const label = String(subject).slice(0, 20);
      await assertRejects(() => store.createOrGet(subject), ErrorCode.Validation, `createOrGet(${label})`);
      await assertRejects(() => store.get(subject), ErrorCode.Validation, `get(${label})`);
      await assertRejects(() => store.delete(subject), ErrorCode.Validation, `delete(${label})`);
    }
  });

  add("subject ids keep their exact text: case, Unicode and prefixes matter", async (open) => {
    const store = await open();
    const subject = `Émilie-${ulid()}`;
    await store.createOrGet(subject);
    assertEqual((await store.get(subject.toLowerCase())).status, "unknown");
    await store.delete(subject.toLowerCase());
    assertEqual((await store.get(subject)).status, "active", "erasing another case left this one");
    // Erasure is final: a store that erased by prefix (LIKE id || '%') would shred other subjects for good.
    const longer = [`${subject}1`, `${subject} `, `${subject}-2`];
    for (const other of longer) await store.createOrGet(other);
    await store.delete(subject);
    assertEqual((await store.get(subject)).status, "erased", "erased");
    for (const other of longer) {
      const status = (await (await open()).get(other)).status;
      assertEqual(status, "active", `erasing ${JSON.stringify(subject)} left ${JSON.stringify(other)}`);
    }
  });

  add(
    "its keys seal personal fields as stored (aes-256-gcm/3 and /2) on this runtime: Web Crypto opens them, and they read back",
    async (open) => {
      const store = await open();
      const data = { email: "ada@example.com", address: { street: "1 Rue de la République", city: "Lyon" } };
      for (const format of [3, 2] as const) {
        const subject = `subject-${ulid()}`;
        const personal = personalData({
          keys: store,
          format,
          events: { Registered: { fields: ["email", "address.street"], subject: () => subject } },
        });
        // The key made on the way (through the key store), then cached (synchronous AES-GCM where the runtime has it).
        for (const when of ["made", "cached"]) {
          const label = `/${format}, ${when}`;
          const id = ulid();
          const pending: PendingEvent = {
            id,
            type: "Registered",
            data,
            metadata: {},
            timestamp: new Date().toISOString(),
          };
          const [sealed] = (await personal.encryptEvents("Customer-1", [pending])) as [PendingEvent];
          const { fields, iv, ciphertext } = sealedParts(sealed.data, format);
          assertEqual(JSON.stringify(fields), '["email","address.street"]', `${label}: fields`);
          const aad = `eventflows/personal-data/v${format}\u0000${JSON.stringify([subject, ["event", id, "Registered"], fields])}`;
          const plain = await crypto.subtle.decrypt(
            { name: "AES-GCM", iv, additionalData: encoder.encode(aad) },
            await store.createOrGet(subject),
            ciphertext,
          );
          assertEqual(
            new TextDecoder().decode(plain),
            JSON.stringify([data.email, data.address.street]),
            `${label}: opened`,
          );
          const read = await personal.decryptEvent({ ...sealed, streamId: "Customer-1", version: 1 });
          // Compared as values: /3 puts the restored fields after the record's other keys.
          assertEqual(read.data, data, `${label}: read back`);
        }
      }
    },
  );

  return { name: options.name, cases };
}

/**
 * The field list, IV and ciphertext + tag of a record sealed in `format`, read from the stored shape:
 * /3's `$personal` marker `[format, subject, fields, base64(IV + ciphertext + tag)]`, or /2's sealed
 * value at the first field (`email` here), `{ fields, iv, data }`.
 */
function sealedParts(
  data: unknown,
  format: 2 | 3,
): { fields: string[]; iv: Uint8Array<ArrayBuffer>; ciphertext: Uint8Array<ArrayBuffer> } {
  if (format === 3) {
    const [, , fields, sealed] = (data as { $personal: [string, string, string[], string] }).$personal;
    const bytes = fromBase64(sealed);
    return { fields, iv: bytes.slice(0, 12), ciphertext: bytes.slice(12) };
  }
  const value = (data as { email: { fields: string[]; iv: string; data: string } }).email;
  return { fields: value.fields, iv: fromBase64(value.iv), ciphertext: fromBase64(value.data) };
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/**
 * What the erasure tests of every backend share: customers with personal fields in their events, a
 * directory projection that copies them into a read model, the declaration that marks them, and a
 * check that a text dump (psql's, a raw DynamoDB scan's) holds none of a subject's plaintext.
 */
import {
  type EventEnvelope,
  type NewEvent,
  type PersonalData,
  personalData,
  projection,
  type SubjectKeyStore,
} from "../../src/index.js";

export type CustomerEvent =
  | { type: "CustomerRegistered"; data: { customerId: string; email: string; name: string; tier: string } }
  | { type: "CustomerMoved"; data: { customerId: string; address: { street: string; city: string } } };

/** Personal fields per subject, distinctive enough to find in any dump. */
export function secretsOf(customerId: string) {
  return {
    email: `${customerId}.mail@example.test`,
    name: `Name-of-${customerId}`,
    street: `${customerId} Rue Secrète`,
  };
}

export function customerHistory(customerId: string): NewEvent[] {
  const secrets = secretsOf(customerId);
  return [
    { type: "CustomerRegistered", data: { customerId, email: secrets.email, name: secrets.name, tier: "gold" } },
    { type: "CustomerMoved", data: { customerId, address: { street: secrets.street, city: "Lyon" } } },
  ];
}

/** The customers' declaration, writing the stored format `format` (the default when not given). */
export function customerPersonalData(keys: SubjectKeyStore, format?: 2 | 3): PersonalData {
  return personalData<CustomerEvent>({
    keys,
    ...(format === undefined ? {} : { format }),
    events: {
      CustomerRegistered: { fields: ["email", "name"], subject: (event) => event.data.customerId },
      CustomerMoved: { fields: ["address.street"], subject: (event) => event.data.customerId },
    },
    snapshots: { Customer: { fields: ["email", "name"], subject: (snapshot) => snapshot.streamId.slice(9) } },
  });
}

type Directory = { email: string | null; name: string | null; street?: string | null; tier: string };

/** One document per customer with its personal fields, as an application's read model would hold them. */
export function directoryProjection(name: string) {
  return projection<EventEnvelope>({
    name,
    types: ["CustomerRegistered", "CustomerMoved"],
    handle: async (event, { readModels }) => {
      const data = event.data as Record<string, unknown>;
      const id = String(data.customerId);
      if (event.type === "CustomerRegistered") {
        await readModels.put("directory", id, { email: data.email, name: data.name, tier: data.tier });
      } else {
        const doc = (await readModels.get<Directory>("directory", id)) as Directory;
        const address = data.address as { street: string | null };
        await readModels.put("directory", id, { ...doc, street: address.street });
      }
    },
  });
}

/** The plaintext of a subject as it may appear in a dump: as text, and hex-encoded (bytea, binary attributes). */
export function plaintextForms(customerId: string): string[] {
  const hex = (text: string) =>
    [...new TextEncoder().encode(text)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
  return Object.values(secretsOf(customerId)).flatMap((secret) => [secret, hex(secret)]);
}

/** Which of a subject's plaintext forms the dump contains (case-insensitively for hex). */
export function leaks(dump: string, customerId: string): string[] {
  const lower = dump.toLowerCase();
  return plaintextForms(customerId).filter((form) => lower.includes(form.toLowerCase()));
}

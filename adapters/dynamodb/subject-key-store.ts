import {
  HEALTH_CHECK_STREAM,
  type Issue,
  masterKeyIssues,
  newSubjectKey,
  PersonalDataError,
  SUBJECT_KEY_STORE_OPTIONS,
  type SubjectKeyLookup,
  SubjectKeyStore,
  type SubjectKeyStoreOptions,
  unwrapSubjectKey,
  ValidationError,
  type WebCryptoKey,
  wrapSubjectKey,
} from "../../src/index.js";
import { AWS_JSON_CLIENT_OPTIONS } from "../aws/index.js";
import { num, readString, str } from "./attribute-value.js";
import { fromBase64, toBase64 } from "./base64.js";
import { type AwsJsonClient, type AwsJsonClientOptions, clientOption, isServiceErrorCode } from "./client.js";
import {
  A,
  LAYOUT_OPTIONS,
  M,
  partitionValue,
  type TableLayout,
  type TableLayoutOptions,
  tableLayout,
} from "./layout.js";
import { ensureEventStoreTable, tableWait } from "./table.js";

/**
 * Subject key items live under partition key `SUBJECT_KEY_PARTITION_PREFIX + subjectId`, sort key 0.
 * The control character cannot start a stream id, so the event table can hold them beside the streams.
 */
export const SUBJECT_KEY_PARTITION_PREFIX = "\u001feventflows:subject-key:";
/** The wrapped key (Binary: IV then AES-GCM ciphertext), absent once erased. */
const WRAPPED = "wk";
/** When the subject was erased (ISO-8601), present only on a tombstone. */
const ERASED = "erased";
const SORT_KEY = 0;

export interface DynamoDbSubjectKeyStoreOptions
  extends AwsJsonClientOptions,
    TableLayoutOptions,
    SubjectKeyStoreOptions {
  /**
   * The application's AES-GCM key (from KMS, a secret, `crypto.subtle.importKey`) under which every
   * subject key is stored: the table never holds a key in plaintext. Losing it loses every subject's
   * personal data.
   */
  readonly masterKey: WebCryptoKey;
  /** The client to use, e.g. the event store's (`store.client`), to share its retry budget. */
  readonly client?: AwsJsonClient;
}

const SUBJECT_KEY_STORE_KEYS = Object.keys({
  ...SUBJECT_KEY_STORE_OPTIONS,
  ...AWS_JSON_CLIENT_OPTIONS,
  ...LAYOUT_OPTIONS,
  client: true,
  masterKey: true,
} satisfies Record<keyof DynamoDbSubjectKeyStoreOptions, true>);

/**
 * Subject keys as items in the event store's table (or one of its own with the same key schema):
 * one item per data subject with its key wrapped by the master key, the subject id authenticated.
 * `delete` overwrites the item with a tombstone, so the subject is never given a key again.
 */
export class DynamoDbSubjectKeyStore extends SubjectKeyStore {
  readonly client: AwsJsonClient;
  readonly layout: TableLayout;
  readonly #masterKey: WebCryptoKey;

  /** @throws {ValidationError} a missing master key, bad table or key names, cache options, region or credentials. */
  constructor(options: DynamoDbSubjectKeyStoreOptions) {
    super(options);
    if (typeof options !== "object" || options === null) {
      throw new ValidationError("Invalid DynamoDB subject key store options", [
        { path: [], message: "options are required" },
      ]);
    }
    const layout = tableLayout(options, SUBJECT_KEY_STORE_KEYS);
    const issues: Issue[] = [...masterKeyIssues(options?.masterKey)];
    const own = new Set([WRAPPED, ERASED, ...Object.values(A), ...Object.values(M)]);
    for (const field of ["partitionKey", "sortKey"] as const) {
      if (own.has(layout[field])) {
        issues.push({ path: [field], message: `"${layout[field]}" is an attribute the subject key store uses itself` });
      }
    }
    if (issues.length > 0) throw new ValidationError("Invalid DynamoDB subject key store options", issues);
    this.layout = layout;
    this.client = clientOption(options);
    this.#masterKey = options.masterKey;
  }

  /** For health checks: one `GetItem` of a key never written. */
  async ping(signal?: AbortSignal): Promise<void> {
    const request = { TableName: this.layout.tableName, Key: this.#key(HEALTH_CHECK_STREAM) };
    await this.client.send("GetItem", request, signal === undefined ? {} : { signal });
  }

  /** Creates the table if it does not exist (the event store's key schema) and waits until it is active. */
  async ensureTable(options: { readonly timeoutMs?: number } = {}): Promise<"created" | "exists"> {
    return ensureEventStoreTable(this.client, this.layout, tableWait(options));
  }

  protected async readKey(subjectId: string): Promise<SubjectKeyLookup> {
    const result = await this.client.send<{ Item?: Record<string, unknown> }>("GetItem", {
      TableName: this.layout.tableName,
      Key: this.#key(subjectId),
      ConsistentRead: true,
    });
    const item = result.Item;
    if (item === undefined) return { status: "unknown" };
    if (readString(item, ERASED) !== undefined) return { status: "erased" };
    const wrapped = (item[WRAPPED] as { B?: unknown } | undefined)?.B;
    // This store writes an item with the key or a tombstone: one with neither holds a key that does not unwrap.
    if (typeof wrapped !== "string") throw new PersonalDataError("key-unwrap", subjectId, undefined);
    return { status: "active", key: await unwrapSubjectKey(this.#masterKey, subjectId, fromBase64(wrapped)) };
  }

  protected async insertKey(subjectId: string): Promise<SubjectKeyLookup> {
    const { raw } = await newSubjectKey();
    const wrapped = await wrapSubjectKey(this.#masterKey, subjectId, raw);
    raw.fill(0);
    try {
      // Stored unless an item exists (another writer's key, or a tombstone); then the item decides.
      await this.client.send("PutItem", {
        TableName: this.layout.tableName,
        Item: { ...this.#key(subjectId), [WRAPPED]: { B: toBase64(wrapped) } },
        ConditionExpression: "attribute_not_exists(#pk)",
        ExpressionAttributeNames: { "#pk": this.layout.partitionKey },
      });
    } catch (error) {
      if (!isServiceErrorCode(error, "ConditionalCheckFailedException")) throw error;
    }
    return this.readKey(subjectId);
  }

  protected async eraseKey(subjectId: string): Promise<void> {
    // A put, not an update: the item is replaced whole, so no attribute of the key survives it. Unless
    // it is a tombstone already: deleting again keeps the time of the erasure (as PostgreSQL's does).
    try {
      await this.client.send("PutItem", {
        TableName: this.layout.tableName,
        Item: { ...this.#key(subjectId), [ERASED]: str(new Date().toISOString()) },
        ConditionExpression: "attribute_not_exists(#erased)",
        ExpressionAttributeNames: { "#erased": ERASED },
      });
    } catch (error) {
      if (!isServiceErrorCode(error, "ConditionalCheckFailedException")) throw error;
    }
  }

  #key(subjectId: string): Record<string, unknown> {
    return {
      [this.layout.partitionKey]: str(partitionValue(this.layout, SUBJECT_KEY_PARTITION_PREFIX + subjectId)),
      [this.layout.sortKey]: num(SORT_KEY),
    };
  }
}

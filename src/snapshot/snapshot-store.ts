import type { AnyAggregate } from "../aggregate/aggregate-root.js";
import { isValidationError, PayloadTooLargeError, SnapshotCorruptError, ValidationError } from "../errors.js";
import { HEALTH_CHECK_STREAM } from "../health/health-check.js";
import {
  assertKnownOptions,
  assertNonNegativeInteger,
  assertPositiveInteger,
  assertStreamId,
  kindOf,
  unknownKeyIssues,
} from "../internal/validate.js";
import type { PersonalData } from "../personal-data/personal-data.js";
import { telemetryConfig } from "../telemetry/config.js";
import { reportSlowPath } from "../telemetry/slow-paths.js";
import { inSpan, type Span, SpanKind, setSpanAttribute, setSpanAttributes } from "../telemetry/spans.js";
import { activeTracer } from "../telemetry/tracer.js";
import { type CompressionFormat, compress, decompress, isCompressionFormat } from "./compression.js";
import { normalizeCreatedAt } from "./created-at.js";
import { jsonSerializer } from "./json-serializer.js";
import { type RepositorySnapshotOptions, RepositorySnapshots } from "./repository-snapshots.js";
import { notSerializable, type SnapshotSerializer } from "./serializer.js";
import type {
  LoadSnapshotOptions,
  NewSnapshot,
  SaveSnapshotResult,
  Snapshot,
  SnapshotStoreCapabilities,
  StoredSnapshot,
} from "./types.js";

export interface SnapshotCompression {
  readonly format: CompressionFormat;
  /** Payloads smaller than this are stored as they are: compressing them would hardly pay. Defaults to 512. */
  readonly minBytes?: number;
}

export interface SnapshotStoreOptions {
  /** Writes new snapshots. Defaults to {@link jsonSerializer}. */
  readonly serializer?: SnapshotSerializer;
  /**
   * Serializers of snapshots written before a switch, still read. A snapshot whose encoding none of
   * the serializers names fails to load with a {@link SnapshotCorruptError}.
   */
  readonly legacySerializers?: readonly SnapshotSerializer[];
  /** Compress payloads with the web `CompressionStream`; kept only when smaller. Off by default. */
  readonly compression?: SnapshotCompression | false;
  /**
   * Snapshots kept per stream: after each save, older ones beyond the newest `keepLast` are deleted.
   * `Infinity` keeps all. Defaults to 2, so one older snapshot remains should the newest go bad.
   */
  readonly keepLast?: number;
  /**
   * Most bytes a compressed snapshot may decompress to. Reading stops there and the snapshot loads
   * as corrupt (the repository then replays the events), so a small row that inflates enormously (a
   * decompression bomb written by anyone who can write snapshot rows) cannot exhaust memory.
   * Defaults to 64 MiB.
   */
  readonly maxDecompressedBytes?: number;
  /**
   * Crypto-shredding (see `personalData()`, the same object the event store takes): the personal
   * fields it declares for the stream's category are encrypted before the state is serialized, and
   * decrypted on load; fields of an erased subject load as `null`.
   */
  readonly personalData?: PersonalData;
  /**
   * `false` turns this store's spans off whatever provider is registered. Defaults to true: a
   * `snapshot load` / `snapshot save` span per call whenever a provider is registered.
   */
  readonly telemetry?: boolean;
}

/**
 * The keys of {@link SnapshotStoreOptions}, for the stores that extend them to refuse any other key (a misspelt
 * option was dropped without a word): a record, so that a key added to the interface and not here fails to compile.
 */
export const SNAPSHOT_STORE_OPTIONS = {
  serializer: true,
  legacySerializers: true,
  compression: true,
  keepLast: true,
  maxDecompressedBytes: true,
  personalData: true,
  telemetry: true,
} as const satisfies Record<keyof SnapshotStoreOptions, true>;

export const DEFAULT_KEEP_LAST = 2;
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;
const DEFAULT_MIN_COMPRESS_BYTES = 512;

/**
 * The snapshot store port. Subclasses implement storage (`writeSnapshot`, `readSnapshot`,
 * `deleteSnapshots`) on {@link StoredSnapshot} records; this base validates every input,
 * serializes, compresses and enforces size limits, so every adapter answers the same mistakes with
 * the same errors and reads what any other wrote.
 *
 * Snapshots are keyed by stream and version. Saving one at a version that exists replaces it (the
 * last writer wins); saving one below the newest adds an older snapshot and never hides the newer.
 */
export abstract class SnapshotStore {
  abstract readonly capabilities: SnapshotStoreCapabilities;
  readonly keepLast: number;
  readonly #serializer: SnapshotSerializer;
  readonly #legacy: readonly SnapshotSerializer[];
  readonly #compression: Required<SnapshotCompression> | undefined;
  readonly #maxDecompressedBytes: number;
  readonly #traced: boolean;
  readonly #personal: PersonalData | undefined;
  /** The backend, as OpenTelemetry's `db.system` names it on this store's spans: adapters set their own. */
  protected readonly dbSystem: string = "other";

  constructor(given: SnapshotStoreOptions = {}) {
    // null too: the defaults, as undefined (not a TypeError from reading it before a subclass's own checks).
    const options: SnapshotStoreOptions = given ?? {};
    this.#traced = options.telemetry !== false;
    this.#personal = options.personalData;
    const issues = optionIssues(options);
    if (issues.length > 0) throw new ValidationError("Invalid snapshot store options", issues);
    this.#serializer = options.serializer ?? jsonSerializer;
    this.#legacy = options.legacySerializers ?? [];
    this.keepLast = options.keepLast ?? DEFAULT_KEEP_LAST;
    this.#maxDecompressedBytes = options.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
    this.#compression = options.compression
      ? { format: options.compression.format, minBytes: options.compression.minBytes ?? DEFAULT_MIN_COMPRESS_BYTES }
      : undefined;
  }

  /**
   * @internal What an `AggregateRepository` given this store (`snapshots: { store }`) loads and saves
   * snapshots with. Made here, not imported by the repository, so that a bundle whose repositories take
   * no snapshots carries none of it (1.6 KB of the worker template's, gzipped).
   */
  repositorySnapshots<A extends AnyAggregate>(options: RepositorySnapshotOptions<A>): RepositorySnapshots<A> {
    return new RepositorySnapshots(options);
  }

  /**
   * Stores a snapshot, then deletes the stream's snapshots beyond the newest `keepLast`.
   * @throws {ValidationError} bad stream id, version or schema version, or state the serializer cannot carry; nothing is written.
   * @throws {PayloadTooLargeError} the payload exceeds `capabilities.maxPayloadBytes`; nothing is written.
   */
  save<State>(snapshot: NewSnapshot<State>): Promise<SaveSnapshotResult> {
    const version: Record<string, number> =
      typeof snapshot?.version === "number" ? { "eventflows.snapshot_version": snapshot.version } : {};
    return this.#observe(
      "snapshot save",
      snapshot?.streamId,
      version,
      () => this.#save(snapshot),
      (span, result) =>
        setSpanAttributes(span, { "eventflows.stored_bytes": result.storedBytes, "eventflows.pruned": result.pruned }),
    );
  }

  /**
   * A snapshot call in a span (when tracing) and checked against the slow-call threshold; the call
   * itself when neither is on.
   */
  #observe<T>(
    operation: string,
    streamId: unknown,
    extra: Record<string, number>,
    run: () => Promise<T>,
    describe: (span: Span, result: T) => void,
  ): Promise<T> {
    const tracer = this.#traced ? activeTracer() : undefined;
    const slowMs = telemetryConfig().slowStoreCallMs;
    if (tracer === undefined && slowMs === false) return run();
    const started = performance.now();
    const check = (span: Span | undefined) => {
      const durationMs = performance.now() - started;
      if (slowMs === false || durationMs <= slowMs) return;
      const stream = typeof streamId === "string" ? { streamId } : {};
      reportSlowPath({ operation, ...stream, durationMs, thresholdMs: slowMs }, span);
    };
    if (tracer === undefined) return run().finally(() => check(undefined));
    const attributes = { ...this.#attributes(operation, streamId), ...extra };
    return inSpan(tracer, operation, SpanKind.CLIENT, attributes, async (span) => {
      try {
        const result = await run();
        describe(span, result);
        return result;
      } finally {
        check(span);
      }
    });
  }

  #attributes(operation: string, streamId: unknown): Record<string, string | number> {
    const attributes: Record<string, string | number> = { "db.system": this.dbSystem, "db.operation.name": operation };
    if (typeof streamId === "string") attributes["eventflows.stream_id"] = streamId;
    return attributes;
  }

  async #save<State>(snapshot: NewSnapshot<State>): Promise<SaveSnapshotResult> {
    assertNewSnapshot(snapshot);
    const { streamId, version } = snapshot;
    const schemaVersion = snapshot.schemaVersion ?? 1;
    const serializer = this.#serializer;
    const personal = this.#personal;
    const state = personal === undefined ? snapshot.state : await personal.encryptSnapshot(streamId, snapshot.state);
    let payload = serializeState(serializer, state);
    let encoding = serializer.name;
    const compression = this.#compression;
    if (compression !== undefined && payload.byteLength >= compression.minBytes) {
      const compressed = await compress(payload, compression.format);
      if (compressed.byteLength < payload.byteLength) {
        payload = compressed;
        encoding = `${encoding}+${compression.format}`;
      }
    }
    const limit = this.capabilities.maxPayloadBytes;
    if (limit !== undefined && payload.byteLength > limit) {
      throw new PayloadTooLargeError(
        `Snapshot of stream "${streamId}" at version ${version}`,
        payload.byteLength,
        limit,
      );
    }
    // The repository passes its policies' clock, so that olderThan ages a restored snapshot on that clock.
    const createdAt =
      snapshot.createdAt === undefined ? new Date().toISOString() : normalizeCreatedAt(snapshot.createdAt);
    const { pruned } = await this.writeSnapshot(
      { streamId, version, schemaVersion, encoding, payload, createdAt },
      this.keepLast,
    );
    return { streamId, version, encoding, storedBytes: payload.byteLength, pruned };
  }

  /**
   * The stream's newest snapshot, or the newest at or below `options.maxVersion`; `undefined` when
   * there is none.
   * @throws {SnapshotCorruptError} the snapshot's bytes do not decode, or no configured serializer wrote them.
   */
  load<State = unknown>(streamId: string, options: LoadSnapshotOptions = {}): Promise<Snapshot<State> | undefined> {
    return this.#observe(
      "snapshot load",
      streamId,
      {},
      () => this.#load<State>(streamId, options),
      (span, snapshot) => {
        setSpanAttribute(span, "eventflows.outcome", snapshot === undefined ? "none" : "found");
        if (snapshot !== undefined) setSpanAttribute(span, "eventflows.snapshot_version", snapshot.version);
      },
    );
  }

  async #load<State>(streamId: string, options: LoadSnapshotOptions): Promise<Snapshot<State> | undefined> {
    assertStreamId(streamId);
    assertLoadOptions(options);
    const record = await this.readSnapshot(streamId, options.maxVersion);
    if (record === undefined) return undefined;
    const decoded = await this.#decode(record);
    const personal = this.#personal;
    const state = (
      personal === undefined ? decoded : await personal.decryptSnapshot(record.streamId, decoded)
    ) as State;
    return {
      streamId: record.streamId,
      version: record.version,
      schemaVersion: record.schemaVersion,
      state,
      createdAt: record.createdAt,
      storedBytes: record.payload.byteLength,
    };
  }

  /** Deletes every snapshot of the stream (when the stream itself is deleted, say). Returns how many. */
  async delete(streamId: string): Promise<number> {
    assertStreamId(streamId);
    return this.deleteSnapshots(streamId);
  }

  /**
   * Resolves when the backend answers, for health checks. This default reads the snapshot of a
   * stream that need not exist; adapters answer it with their cheapest round trip.
   */
  async ping(_signal?: AbortSignal): Promise<void> {
    await this.readSnapshot(HEALTH_CHECK_STREAM, undefined);
  }

  /**
   * Stores the record, replacing one at the same stream and version, then deletes the stream's
   * records beyond the newest `keepLast` by version (`Infinity`: none). Do both in one round trip
   * where the backend allows. Returns how many were deleted.
   */
  protected abstract writeSnapshot(record: StoredSnapshot, keepLast: number): Promise<{ readonly pruned: number }>;
  /** The stream's record with the highest version, at or below `maxVersion` when given. */
  protected abstract readSnapshot(
    streamId: string,
    maxVersion: number | undefined,
  ): Promise<StoredSnapshot | undefined>;
  protected abstract deleteSnapshots(streamId: string): Promise<number>;

  async #decode(record: StoredSnapshot): Promise<unknown> {
    const corrupt = (reason: string, cause?: unknown) =>
      new SnapshotCorruptError(record.streamId, record.version, reason, cause === undefined ? undefined : { cause });
    const [name, format, ...rest] = String(record.encoding).split("+");
    const serializer = [this.#serializer, ...this.#legacy].find((candidate) => candidate.name === name);
    if (serializer === undefined || rest.length > 0 || (format !== undefined && !isCompressionFormat(format))) {
      throw corrupt(`unknown encoding "${record.encoding}"`);
    }
    let bytes = record.payload;
    if (format !== undefined) {
      try {
        bytes = await decompress(bytes, format, this.#maxDecompressedBytes);
      } catch (error) {
        if (error instanceof PayloadTooLargeError) {
          throw corrupt(`the payload decompresses to more than maxDecompressedBytes (${error.limit})`);
        }
        throw corrupt(`the payload does not decompress as ${format}`, error);
      }
    }
    try {
      return serializer.deserialize(bytes);
    } catch (error) {
      throw corrupt(`the payload does not decode as ${serializer.name}`, error);
    }
  }
}

function serializeState(serializer: SnapshotSerializer, state: unknown): Uint8Array {
  let payload: unknown;
  try {
    payload = serializer.serialize(state);
  } catch (error) {
    // Custom serializers may throw anything (JSON.stringify a TypeError): callers get one error type.
    if (isValidationError(error)) throw error;
    throw notSerializable(serializer.name, state, error);
  }
  if (!(payload instanceof Uint8Array)) {
    throw new ValidationError("Snapshot serializer failed", [
      { path: [], message: `serializer "${serializer.name}" returned ${kindOf(payload)}, not a Uint8Array` },
    ]);
  }
  return payload;
}

const SNAPSHOT_KEYS = ["streamId", "version", "state", "schemaVersion", "createdAt", "storedBytes"];

function assertNewSnapshot(snapshot: unknown): asserts snapshot is NewSnapshot {
  if (typeof snapshot !== "object" || snapshot === null) {
    throw new ValidationError("Invalid snapshot", [
      { path: [], message: `expected { streamId, version, state }, got ${kindOf(snapshot)}` },
    ]);
  }
  // A misspelt `schemaVerson` or `createAt` was dropped for its default, and the snapshot stored
  // under schema version 1 or the wall clock. A loaded snapshot's `storedBytes` passes (a copy).
  assertKnownOptions(snapshot, SNAPSHOT_KEYS, "snapshot");
  const { streamId, version, schemaVersion } = snapshot as Record<string, unknown>;
  assertStreamId(streamId);
  assertPositiveInteger(version, "snapshot version");
  if (schemaVersion !== undefined) assertNonNegativeInteger(schemaVersion, "snapshot schemaVersion");
  const { createdAt } = snapshot as Record<string, unknown>;
  if (createdAt !== undefined) normalizeCreatedAt(createdAt);
}

function assertLoadOptions(options: unknown): asserts options is LoadSnapshotOptions {
  if (typeof options !== "object" || options === null) {
    throw new ValidationError("Invalid load options", [
      { path: [], message: `expected an object, got ${kindOf(options)}` },
    ]);
  }
  // A misspelt `maxversion` loaded the newest snapshot, past the version asked for.
  assertKnownOptions(options, ["maxVersion"], "load options");
  const { maxVersion } = options as LoadSnapshotOptions;
  if (maxVersion !== undefined) assertPositiveInteger(maxVersion, "maxVersion");
}

function optionIssues(options: SnapshotStoreOptions): { path: string[]; message: string }[] {
  const issues: { path: string[]; message: string }[] = [];
  if (typeof options !== "object") return [{ path: [], message: `options must be an object, got ${kindOf(options)}` }];
  const { serializer, legacySerializers, compression, keepLast, maxDecompressedBytes, telemetry, personalData } =
    options;
  // As the event store checks them: a string "false" kept the spans on, and a personalData that is not
  // what personalData() builds failed every save with a TypeError.
  if (telemetry !== undefined && typeof telemetry !== "boolean") {
    issues.push({ path: ["telemetry"], message: `must be a boolean, got ${kindOf(telemetry)}` });
  }
  const personal = personalData as Partial<PersonalData> | null | undefined;
  if (
    personal !== undefined &&
    (typeof personal?.encryptSnapshot !== "function" || typeof personal.decryptSnapshot !== "function")
  ) {
    issues.push({ path: ["personalData"], message: `must be what personalData() builds, got ${kindOf(personal)}` });
  }
  if (
    maxDecompressedBytes !== undefined &&
    !(Number.isSafeInteger(maxDecompressedBytes) && maxDecompressedBytes >= 1)
  ) {
    issues.push({
      path: ["maxDecompressedBytes"],
      message: `must be a positive integer, got ${kindOf(maxDecompressedBytes)}`,
    });
  }
  const serializers: unknown[] = serializer === undefined ? [] : [serializer];
  if (Array.isArray(legacySerializers)) serializers.push(...legacySerializers);
  else if (legacySerializers !== undefined) {
    issues.push({ path: ["legacySerializers"], message: "must be an array of serializers" });
  }
  for (const candidate of serializers as (Partial<SnapshotSerializer> | null)[]) {
    const name = candidate?.name;
    if (
      typeof candidate?.serialize !== "function" ||
      typeof candidate.deserialize !== "function" ||
      typeof name !== "string" ||
      !/^[A-Za-z0-9._-]{1,64}$/.test(name)
    ) {
      issues.push({
        path: ["serializer"],
        message: `a serializer needs serialize, deserialize and a name of 1-64 letters, digits, ".", "_" or "-", got ${kindOf(name)}`,
      });
    }
  }
  if (compression !== undefined && compression !== false) {
    // A misspelt `minbytes` kept the default of 512, and small states were stored uncompressed.
    issues.push(...(unknownKeyIssues(compression, ["format", "minBytes"], ["compression"]) as typeof issues));
    if (!isCompressionFormat(compression?.format)) {
      issues.push({
        path: ["compression", "format"],
        message: `must be "gzip", "deflate" or "deflate-raw", got ${kindOf(compression?.format)}`,
      });
    }
    const min = compression?.minBytes;
    if (min !== undefined && !(Number.isSafeInteger(min) && min >= 0)) {
      issues.push({ path: ["compression", "minBytes"], message: `must be a non-negative integer, got ${kindOf(min)}` });
    }
  }
  if (
    keepLast !== undefined &&
    keepLast !== Number.POSITIVE_INFINITY &&
    !(Number.isSafeInteger(keepLast) && keepLast >= 1)
  ) {
    issues.push({ path: ["keepLast"], message: `must be a positive integer or Infinity, got ${kindOf(keepLast)}` });
  }
  return issues;
}

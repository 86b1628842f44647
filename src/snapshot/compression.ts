import { type Issue, isEventFlowsError, PayloadTooLargeError, ValidationError } from "../errors.js";
import { kindOf } from "../internal/validate.js";

/** Formats of the web `CompressionStream`, available in Workers, Node 18+, Bun, Deno and browsers. */
export type CompressionFormat = "gzip" | "deflate" | "deflate-raw";

export const COMPRESSION_FORMATS: readonly CompressionFormat[] = ["gzip", "deflate", "deflate-raw"];

/**
 * Compresses bytes with the web `CompressionStream`.
 * @throws {ValidationError} `bytes` is not a Uint8Array or `format` not one of {@link COMPRESSION_FORMATS}.
 */
export function compress(bytes: Uint8Array, format: CompressionFormat = "gzip"): Promise<Uint8Array> {
  const invalid = inputError("compress", bytes, format);
  if (invalid !== undefined) return Promise.reject(invalid);
  return pipe(bytes, new CompressionStream(format));
}

/**
 * Reverses {@link compress}. Rejects with a {@link ValidationError} when the bytes are not valid
 * `format` data (the runtime's own error as its `cause`), and with a {@link PayloadTooLargeError} as
 * soon as the output passes `maxBytes`: reading stops there, so a small payload that inflates
 * enormously costs little more than `maxBytes`.
 */
export function decompress(
  bytes: Uint8Array,
  format: CompressionFormat = "gzip",
  maxBytes: number = Number.POSITIVE_INFINITY,
): Promise<Uint8Array> {
  const invalid = inputError("decompress", bytes, format, maxBytes);
  if (invalid !== undefined) return Promise.reject(invalid);
  return pipe(bytes, new DecompressionStream(format), maxBytes).catch((error: unknown) => {
    if (isEventFlowsError(error)) throw error;
    // The runtime's TypeError ("inflate failed", "unexpected end of file") is about the caller's bytes.
    throw new ValidationError(
      `The bytes do not decompress as ${format}`,
      [{ path: ["bytes"], message: `not valid ${format} data (truncated or not compressed): see cause` }],
      { cause: error },
    );
  });
}

export function isCompressionFormat(value: unknown): value is CompressionFormat {
  return COMPRESSION_FORMATS.includes(value as CompressionFormat);
}

/**
 * What the web streams would throw a TypeError for, or take where only some runtimes do (Bun's and
 * Node's "brotli", which Workers lack): a library error names it instead.
 */
function inputError(
  operation: string,
  bytes: unknown,
  format: unknown,
  maxBytes?: unknown,
): ValidationError | undefined {
  const issues: Issue[] = [];
  if (!(bytes instanceof Uint8Array))
    issues.push({ path: ["bytes"], message: `must be a Uint8Array, got ${kindOf(bytes)}` });
  if (!isCompressionFormat(format)) {
    issues.push({ path: ["format"], message: `must be "gzip", "deflate" or "deflate-raw", got ${kindOf(format)}` });
  }
  if (
    maxBytes !== undefined &&
    maxBytes !== Number.POSITIVE_INFINITY &&
    !(typeof maxBytes === "number" && Number.isSafeInteger(maxBytes) && maxBytes >= 0)
  ) {
    issues.push({ path: ["maxBytes"], message: `must be a non-negative integer or Infinity, got ${kindOf(maxBytes)}` });
  }
  return issues.length === 0 ? undefined : new ValidationError(`Invalid ${operation} arguments`, issues);
}

async function pipe(
  bytes: Uint8Array,
  transform: ReadableWritablePair<Uint8Array, BufferSource>,
  maxBytes = Number.POSITIVE_INFINITY,
): Promise<Uint8Array> {
  // Writing and reading run together: a transform holds little data, so awaiting the write first could stall.
  const writer = transform.writable.getWriter();
  const written = writer.write(bytes as BufferSource).then(() => writer.close());
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = transform.readable.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.byteLength;
      if (length > maxBytes) throw new PayloadTooLargeError("Decompressed data (so far)", length, maxBytes);
    }
  } catch (error) {
    written.catch(() => undefined);
    // Stop the transform: nothing more is read, and the writer's pending write settles.
    await reader.cancel(error).catch(() => undefined);
    throw error;
  }
  await written;
  if (chunks.length === 1 && chunks[0] !== undefined) return chunks[0];
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

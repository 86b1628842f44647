import { PayloadTooLargeError } from "../errors.js";

/** Formats of the web `CompressionStream`, available in Workers, Node 18+, Bun, Deno and browsers. */
export type CompressionFormat = "gzip" | "deflate" | "deflate-raw";

export const COMPRESSION_FORMATS: readonly CompressionFormat[] = ["gzip", "deflate", "deflate-raw"];

/** Compresses bytes with the web `CompressionStream`. */
export function compress(bytes: Uint8Array, format: CompressionFormat = "gzip"): Promise<Uint8Array> {
  return pipe(bytes, new CompressionStream(format));
}

/**
 * Reverses {@link compress}. Rejects (a TypeError in most runtimes) when the bytes are not valid
 * `format` data, and with a {@link PayloadTooLargeError} as soon as the output passes `maxBytes`:
 * reading stops there, so a small payload that inflates enormously costs little more than `maxBytes`.
 */
export function decompress(
  bytes: Uint8Array,
  format: CompressionFormat = "gzip",
  maxBytes: number = Number.POSITIVE_INFINITY,
): Promise<Uint8Array> {
  return pipe(bytes, new DecompressionStream(format), maxBytes);
}

export function isCompressionFormat(value: unknown): value is CompressionFormat {
  return COMPRESSION_FORMATS.includes(value as CompressionFormat);
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

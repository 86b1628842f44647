/**
 * The most of one answer's body the AWS client reads: 32 MiB. The largest answers of the calls the library makes
 * are a BatchGetItem's (DynamoDB returns at most 16 MB of items, which its JSON text, with type wrappers and
 * escaped quotes, can exceed) and an SQS ReceiveMessage's (10 messages of at most 1 MiB each). Twice the largest
 * leaves room for that, and still stops a hostile or broken endpoint from making a call buffer without bound,
 * well within a Worker's 128 MB.
 */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024;

/**
 * The body of `response` as UTF-8 text (as `response.text()` reads it), or undefined as soon as it is known to be
 * over `limit` bytes: by its content-length, else once that much has been read, the rest then left unread (the
 * stream cancelled).
 */
export async function textWithin(response: Response, limit: number): Promise<string | undefined> {
  const body = response.body;
  const declared = response.headers.get("content-length");
  const length = declared !== null && /^\d{1,15}$/.test(declared) ? Number(declared) : Number.NaN;
  if (length > limit) {
    await body?.cancel();
    return undefined;
  }
  // The HTTP layer reads no more of an uncompressed body than its content-length says: `text()` is then bounded,
  // and much faster on Bun than reading chunk by chunk (~0.5 µs against ~10 µs for a 1 KB answer). A compressed
  // body's length is the compressed one's, and a chunked body has none: those are counted as they are read.
  if (length <= limit && isIdentity(response.headers.get("content-encoding"))) return response.text();
  if (body === null) return "";
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    bytes += value.byteLength;
    if (bytes > limit) {
      await reader.cancel();
      return undefined;
    }
    text += decoder.decode(value, { stream: true });
  }
}

function isIdentity(encoding: string | null): boolean {
  return encoding === null || encoding.trim().toLowerCase() === "identity";
}

/**
 * Splits sized items into consecutive batches of at most `maxCount` items and `maxBytes` bytes,
 * keeping their order: PutEvents and SendMessageBatch both take at most 10 entries per request
 * within a byte limit. An item larger than `maxBytes` travels alone; callers refuse those first.
 */
export function batchBySize<T extends { readonly size: number }>(
  items: readonly T[],
  maxCount: number,
  maxBytes: number,
): T[][] {
  const result: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    if (current.length === maxCount || (current.length > 0 && bytes + item.size > maxBytes)) {
      result.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += item.size;
  }
  if (current.length > 0) result.push(current);
  return result;
}

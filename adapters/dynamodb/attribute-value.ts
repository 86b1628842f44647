/** The slice of DynamoDB's attribute-value JSON this adapter reads and writes. */
export type AttributeValue =
  | { readonly S: string }
  | { readonly N: string }
  | { readonly BOOL: boolean }
  | { readonly NULL: true };

export type Item = Readonly<Record<string, AttributeValue>>;

export const str = (value: string): AttributeValue => ({ S: value });
export const num = (value: number): AttributeValue => ({ N: String(value) });

export function readString(item: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const value = item[name] as { S?: unknown } | undefined;
  return typeof value?.S === "string" ? value.S : undefined;
}

export function readNumber(item: Readonly<Record<string, unknown>>, name: string): number | undefined {
  const value = item[name] as { N?: unknown } | undefined;
  return typeof value?.N === "string" ? Number(value.N) : undefined;
}

export function readBool(item: Readonly<Record<string, unknown>>, name: string): boolean {
  const value = item[name] as { BOOL?: unknown } | undefined;
  return value?.BOOL === true;
}

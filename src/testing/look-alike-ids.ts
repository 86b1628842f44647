/**
 * Ids that differ from `base` only where a case-insensitive or space-padding collation, a Unicode
 * normalisation, or a prefix match (LIKE 'id%', begins_with) would take them for `base` itself: a store
 * must keep each apart. `base` is expected to hold "_Exact" (the contract suites' ids do), which one of
 * them turns into a LIKE wildcard.
 */
export function lookAlikeIds(base: string): string[] {
  return [
    base.toLowerCase(),
    base.toUpperCase(),
    `${base} `,
    `${base}1`,
    `${base}\u0065\u0301`,
    `${base}\u00e9`,
    base.slice(0, -1),
    base.replace("_Exact", "%Exact"),
  ];
}

/** A copy with object keys sorted at every level, so JSON.stringify is canonical. */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

/** JSON with object keys sorted: equal values give equal text, whatever order their keys were written in. */
export function stableJson(v: unknown): string {
  return JSON.stringify(canonical(v)) ?? 'undefined';
}

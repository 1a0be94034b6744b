/**
 * Orders strings by Unicode code point, which is the same as ordering their
 * UTF-8 bytes: the order REAPI's canonical forms require. JavaScript's own
 * `<` compares UTF-16 code units, which puts characters above U+FFFF (stored
 * as surrogate pairs, D800–DFFF) before U+E000–U+FFFF; that would make our
 * digests differ from Bazel's for such names.
 */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    // A surrogate starts a code point ≥ U+10000, above any BMP character.
    if (xs !== ys) return xs ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/** Made once: the bundle's target turns the literal into `new RegExp(…)`, which per call cost ~3 µs on every Directory entry read. */
const SURROGATE = /\p{Surrogate}/u;

/** Lone surrogates cannot be encoded as UTF-8; protobuf would silently replace them. */
export function isWellFormedUnicode(s: string): boolean {
  return !SURROGATE.test(s);
}

import { parseLiteral, toPlain } from '../build-files/index.js';

/**
 * List and dict values given as text (`['OSFamily=linux']`, `{'a': '1'}`) use
 * Python literal syntax, as in Pants. The BUILD-file parser already speaks it,
 * so this is the one place the option system leans on it.
 */
export function parseLiteralText(text: string, origin: string): { ok: true; value: unknown } | { ok: false; message: string } {
  const r = parseLiteral(text, origin);
  if (!r.ok) return { ok: false, message: r.failure.message };
  return { ok: true, value: toPlain(r.value) };
}

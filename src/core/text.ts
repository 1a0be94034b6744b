/** The first sentence of a help text (up to a period followed by a capital or the end), for one-line summaries. */
export function firstSentence(text: string): string {
  const i = text.search(/\.(\s+[A-Z`]|\s*$)/);
  return i < 0 ? text : text.slice(0, i + 1);
}

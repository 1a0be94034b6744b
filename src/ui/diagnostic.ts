import type { Failure } from '../core/index.js';
import { displayText, sourceExcerpt } from './safe-text.js';

/**
 * Renders a failure the way every trews error looks:
 *
 *   error: src/app/BUILD:12:21: unknown target `//lib:utl` in `dependencies`
 *       dependencies = ["//lib:utl"],
 *                      ^^^^^^^^^^^
 *     did you mean //lib:util?
 *
 * Plain text only; the caller decides about colour. Everything in it may come
 * from a file someone else wrote, so control characters are shown escaped
 * (an escape sequence in a BUILD file must not drive the terminal), each line
 * is cut to a readable length, and the source line is shown as a window
 * around the caret (a 50 MB line is not echoed whole).
 */
export function renderFailure(f: Failure, opts: { logPath?: string } = {}): string {
  const out: string[] = [];
  const loc = f.location;
  let where = '';
  if (loc) {
    where = loc.file;
    if (loc.line !== undefined) {
      where += `:${loc.line}`;
      if (loc.col !== undefined) where += `:${loc.col}`;
    }
    where += ': ';
  }
  out.push(`error: ${displayText(`${where}${f.message}`)}`);
  if (loc?.lineText !== undefined && loc.col !== undefined) {
    const ex = sourceExcerpt(loc.lineText, loc.col, loc.length ?? 1);
    out.push(`  ${ex.text}`);
    out.push(`  ${' '.repeat(ex.caretCol)}${'^'.repeat(ex.caretLength)}`);
  }
  for (const n of f.notes ?? []) out.push(`  ${displayText(n)}`);
  for (const h of f.hints ?? []) out.push(`  ${displayText(h)}`);
  if (f.tag === 'internal' && opts.logPath) out.push(`  this is a bug in trews; details are in ${displayText(opts.logPath)}`);
  return out.join('\n') + '\n';
}

import type { Failure } from '../core/index.js';
import { palette, type Palette } from './colors.js';
import { displayText, sourceExcerpt } from './safe-text.js';

/** `src/app/BUILD:12:21: unknown target …`: where and what, the first line of a diagnostic without `error: `. */
export function failureHeadline(f: Failure): string {
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
  return displayText(`${where}${f.message}`);
}

/**
 * Renders a failure the way every trews error looks:
 *
 *   error: src/app/BUILD:12:21: unknown target `//lib:utl` in `dependencies`
 *       dependencies = ["//lib:utl"],
 *                      ^^^^^^^^^^^
 *     did you mean //lib:util?
 *
 * Plain text unless the caller passes a palette with colour on (then
 * `error:` and the caret are red). Everything in it may come from a file
 * someone else wrote, so control characters are shown escaped (an escape
 * sequence in a BUILD file must not drive the terminal), each line is cut to
 * a readable length, and the source line is shown as a window around the
 * caret (a 50 MB line is not echoed whole).
 */
export function renderFailure(f: Failure, opts: { logPath?: string; colors?: Palette } = {}): string {
  const colors = opts.colors ?? palette(false);
  const out: string[] = [];
  const loc = f.location;
  out.push(`${colors.red(colors.bold('error:'))} ${failureHeadline(f)}`);
  if (loc?.lineText !== undefined && loc.col !== undefined) {
    const ex = sourceExcerpt(loc.lineText, loc.col, loc.length ?? 1);
    out.push(`  ${ex.text}`);
    out.push(`  ${' '.repeat(ex.caretCol)}${colors.red('^'.repeat(ex.caretLength))}`);
  }
  for (const n of f.notes ?? []) out.push(`  ${displayText(n)}`);
  for (const h of f.hints ?? []) out.push(`  ${displayText(h)}`);
  if (f.tag === 'internal' && opts.logPath) out.push(`  this is a bug in trews; details are in ${displayText(opts.logPath)}`);
  return out.join('\n') + '\n';
}

import type { Failure } from '../core/index.js';

/**
 * Renders a failure the way every trews error looks:
 *
 *   error: src/app/BUILD:12:21: unknown target `//lib:utl` in `dependencies`
 *       dependencies = ["//lib:utl"],
 *                      ^^^^^^^^^^^
 *     did you mean //lib:util?
 *
 * Plain text only; the caller decides about colour.
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
  out.push(`error: ${where}${f.message}`);
  if (loc?.lineText !== undefined && loc.col !== undefined) {
    const text = loc.lineText.replace(/\t/g, ' ').replace(/\r$/, '');
    out.push(`  ${text}`);
    const len = Math.max(1, Math.min(loc.length ?? 1, Math.max(1, text.length - (loc.col - 1))));
    out.push(`  ${' '.repeat(Math.max(0, loc.col - 1))}${'^'.repeat(len)}`);
  }
  for (const n of f.notes ?? []) out.push(`  ${n}`);
  for (const h of f.hints ?? []) out.push(`  ${h}`);
  if (f.tag === 'internal' && opts.logPath) out.push(`  this is a bug in trews; details are in ${opts.logPath}`);
  return out.join('\n') + '\n';
}

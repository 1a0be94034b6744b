import type { ProcessResult } from '../../exec/index.js';
import { stringListField, type Target } from '../../targets/index.js';
import { outputExcerpt, type RuleContext } from '../api/index.js';

/** `bash: line 1: jq: command not found`, `sh: 1: jq: not found`: the name the shell could not find. */
const NOT_FOUND = /(?:^|:\s)([^\s:/'"`]+): (?:command )?not found\s*$/;

/**
 * A sandbox's PATH holds only the command's `tools` (and its
 * `runnable_dependencies`), so `command not found` (exit 127) almost always
 * means a program the command uses was not named there. Says which to add,
 * for each name the shell reported that the target does not list.
 */
export async function missingToolHints(rc: RuleContext, t: Target, result: ProcessResult): Promise<string[]> {
  if (result.exitCode !== 127 || result.timedOut) return [];
  const lines = await outputExcerpt(rc.store, result.stderr, 40, rc.signal);
  const listed = new Set(stringListField(t, 'tools'));
  for (const r of stringListField(t, 'runnable_dependencies')) listed.add(r.slice(r.lastIndexOf(':') + 1).split('/').pop()!);
  const names: string[] = [];
  for (const l of lines) {
    const name = NOT_FOUND.exec(l)?.[1];
    if (name !== undefined && !listed.has(name) && !names.includes(name)) names.push(name);
  }
  return names.map((n) => `\`${n}\` was not found in the sandbox, whose PATH holds only the target's tools: add \`${n}\` to \`tools\` of ${t.address}`);
}

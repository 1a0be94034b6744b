import type { Process } from './types.js';

/** Quotes `s` for a POSIX shell: single quotes, with each ' written as '\''. */
export function shellQuote(s: string): string {
  if (s !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The `__run.sh` written into a kept sandbox: it re-runs the process exactly
 * as the runner did — same working directory, only the process's env (env -i,
 * which also searches the new PATH for argv[0], as execvp did for us), same
 * argv, stdin from /dev/null — so a failure can be reproduced and poked at.
 */
export function runScript(proc: Process, workDirAbs: string): string {
  const env = Object.keys(proc.env)
    .sort()
    .map((k) => `  ${shellQuote(`${k}=${proc.env[k] ?? ''}`)} \\\n`)
    .join('');
  // `--` ends env's options, so an argv[0] starting with '-' is not taken for one.
  const argv = proc.argv.map(shellQuote).join(' ');
  return [
    '#!/bin/sh',
    `# Reproduces: ${proc.description.replace(/\n/g, ' ')}`,
    '# Written by trews (--keep-sandboxes). Outputs are written in place, as in the original run.',
    `cd ${shellQuote(workDirAbs)} || exit 1`,
    `exec env -i -- \\\n${env}  ${argv} </dev/null`,
    '',
  ].join('\n');
}

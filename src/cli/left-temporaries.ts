import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pidExists } from '../core/index.js';

/**
 * Removes the temporary files in `dir` whose writer is gone: `pattern`
 * matches a temporary's name and captures its writer's pid as group 1. A
 * process killed while it wrote (a daemon that `daemon stop` had to SIGKILL
 * while it kept a large graph) leaves one behind. A missing `dir` has none.
 */
export function removeLeftTemporaries(dir: string, pattern: RegExp): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = pattern.exec(name);
    if (m === null || pidExists(Number(m[1]))) continue;
    rmSync(join(dir, name), { force: true });
  }
}

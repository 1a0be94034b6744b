import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CONFIG_FILE } from '../core/index.js';

export { CONFIG_FILE };

/** The nearest directory at or above `cwd` that holds a trews.toml, or undefined. */
export function findBuildRoot(cwd: string): string | undefined {
  let dir = cwd;
  for (;;) {
    if (existsSync(join(dir, CONFIG_FILE))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

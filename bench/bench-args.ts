import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * parseArgs for a bench script (`node dist/bench/<script>.js …`): an unknown
 * flag or a flag without its value prints what is wrong and the script's
 * usage (its opening comment) and exits 2, not a stack trace; `--help` prints
 * the usage and exits 0. `scriptUrl` is the script's import.meta.url.
 */
export function benchArgs<T extends ParseArgsConfig>(scriptUrl: string, config: T): ReturnType<typeof parseArgs<T>> {
  const argv = config.args ?? process.argv.slice(2);
  const name = basename(fileURLToPath(scriptUrl));
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usageOf(scriptUrl));
    process.exit(0);
  }
  try {
    return parseArgs(config);
  } catch (e) {
    process.stderr.write(`${name}: ${e instanceof Error ? e.message : String(e)}\n\n${usageOf(scriptUrl)}`);
    process.exit(2);
  }
}

/** The comment lines a script opens with, without their `//`. */
function usageOf(scriptUrl: string): string {
  let lines: string[];
  try {
    lines = readFileSync(fileURLToPath(scriptUrl), 'utf8').split('\n');
  } catch {
    return '';
  }
  const out: string[] = [];
  for (const line of lines) {
    if (line.startsWith('#!')) continue;
    if (!line.startsWith('//')) break;
    out.push(line.replace(/^\/\/ ?/, ''));
  }
  return out.length > 0 ? `${out.join('\n')}\n` : '';
}

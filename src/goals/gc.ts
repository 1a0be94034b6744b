import { homedir } from 'node:os';
import { failure, FailureError } from '../core/index.js';
import { formatBytes, localStoreDirOf } from '../runtime/index.js';
import { GLOBAL, parseByteSize } from '../options/index.js';
import { collectGarbage } from '../store/index.js';
import type { Goal } from './goal.js';

export const gcGoal: Goal = {
  name: 'gc',
  help: 'Remove the least recently used entries of the local store (blobs and action cache entries) until it fits in --max-size (default: local_store_max_size), and print what was removed. Safe while other trews runs use the store: nothing a running process has used since it started is removed.',
  needsBuildRoot: false,
  registerOptions(registry) {
    registry.registerScope({ name: 'gc', help: this.help, isGoal: true });
    registry.register({
      scope: 'gc',
      name: 'max_size',
      type: 'string',
      default: null,
      help: 'Size to shrink the local store to, e.g. 5GiB, 500MB or a number of bytes; unset means local_store_max_size.',
      validate: (v) => (v === null || (typeof v === 'string' && parseByteSize(v) !== undefined) ? undefined : `${JSON.stringify(v)} is not a size such as 5GiB, 500MB or 1048576`),
    });
  },
  async execute(g) {
    const text = g.options.maybeString('gc', 'max_size') ?? g.options.string(GLOBAL, 'local_store_max_size');
    const maxSizeBytes = parseByteSize(text);
    if (maxSizeBytes === undefined) {
      throw new FailureError(failure('input', 'bad-option-value', `\`${text}\` is not a size such as 5GiB`, { exitCode: 2 }));
    }
    const dir = localStoreDirOf(g.options, g.root, g.ctx.env, g.ctx.env['HOME'] ?? homedir());
    const r = await collectGarbage({ dir }, { maxSizeBytes, signal: g.ctx.signal, logger: g.logger });
    const lines = [
      `local store ${dir}, limit ${formatBytes(maxSizeBytes)}:`,
      `  removed ${r.removedCount} entr${r.removedCount === 1 ? 'y' : 'ies'} (${formatBytes(r.removedBytes)}) and ${r.removedTempFiles} abandoned temp file${r.removedTempFiles === 1 ? '' : 's'}`,
      `  ${r.remainingCount} entr${r.remainingCount === 1 ? 'y' : 'ies'} (${formatBytes(r.remainingBytes)}) remain${r.keptInUse > 0 ? `; ${r.keptInUse} kept because they were used meanwhile` : ''}${r.keptForRuns > 0 ? `; ${r.keptForRuns} kept because running trews processes use them` : ''}`,
    ];
    await g.emit(lines);
    return 0;
  },
};

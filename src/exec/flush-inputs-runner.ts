import { flushTree, type BlobStore } from '../store/index.js';
import type { CommandRunner, ExecContext, Process, ProcessResult } from './types.js';

/**
 * Writes a process's input root into the local store before `inner` runs
 * it: snapshots are only staged in memory (store/flush-staged.ts) until
 * something needs them from the store, and remote execution uploads the
 * input root from there. The local sandbox needs no wrapper
 * (materializeTree flushes), but one costs nothing when nothing is staged.
 */
export function createFlushInputsRunner(inner: CommandRunner, store: BlobStore): CommandRunner {
  return {
    async run(ctx: ExecContext, proc: Process): Promise<ProcessResult> {
      await flushTree(store, proc.inputRoot, ctx.signal);
      return inner.run(ctx, proc);
    },
  };
}

import type { OptionRegistry } from './registry.js';

/** The `[sandbox]` scope: how much of the machine local processes see. */
export const SANDBOX_SCOPE = 'sandbox';

/** Registers `[sandbox] isolation` (read by rules: it is part of each process's action) and `explain` (read by the runner). */
export function registerSandboxOptions(registry: OptionRegistry): void {
  registry.registerScope({ name: SANDBOX_SCOPE, help: 'How much of the machine the processes trews runs locally can see.', isGoal: false });
  registry.register({
    scope: SANDBOX_SCOPE,
    name: 'isolation',
    type: 'enum',
    choices: ['none', 'strict'],
    default: 'none',
    help: '`none`: a process runs in a sandbox directory but can read any file of the machine. `strict` (Linux, needs bubblewrap): it sees only its inputs, its tools and the system directories — not the workspace, the home directory or the store — with a private /tmp and no network (unless its target says `network=True`), so an undeclared input fails it instead of silently making its cached result wrong. Targets override it with `sandbox_isolation`; it is part of every cache key.',
  });
  registry.register({
    scope: SANDBOX_SCOPE,
    name: 'explain',
    type: 'bool',
    default: false,
    help: 'When a strictly isolated process fails, trace it with `strace -f -e trace=file` (installed separately) to name the files outside its inputs it tried to open.',
  });
}

import { startSession } from './session.js';
import { spawn, type StdioOptions } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { failure, FailureError, type RunContext } from '../core/index.js';
import { RUN, type InteractiveProcess } from '../backends/index.js';
import type { Goal } from './goal.js';

/** After Ctrl-C the program gets this long to exit on its own before SIGTERM, then as long again before SIGKILL. */
const INTERRUPT_GRACE_MS = 2000;

/**
 * A stream backed by a file descriptor (a terminal, a pipe: what an
 * in-process run gets) is handed to the program itself, so a terminal stays
 * a terminal for it (isatty, raw mode, job control). Other streams (the
 * daemon's, relayed to its client) are piped.
 */
function hasFd(s: Readable | Writable): boolean {
  return typeof (s as { fd?: unknown }).fd === 'number';
}

/**
 * Runs the program attached to the run's streams and returns its exit code
 * (128 + n when killed by signal n), as a shell would. On cancellation it is
 * interrupted (unless the terminal already did that), then terminated.
 */
function runAttached(ctx: RunContext, p: InteractiveProcess): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const stdio: StdioOptions = [hasFd(ctx.stdin) ? ctx.stdin : 'pipe', hasFd(ctx.stdout) ? ctx.stdout : 'pipe', hasFd(ctx.stderr) ? ctx.stderr : 'pipe'];
    const child = spawn(p.argv[0]!, p.argv.slice(1), { cwd: p.cwd, env: { ...p.env }, stdio });
    const timers: NodeJS.Timeout[] = [];
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // the program may exit without reading all of its input
      ctx.stdin.pipe(child.stdin);
    }
    child.stdout?.pipe(ctx.stdout, { end: false });
    child.stderr?.pipe(ctx.stderr, { end: false });
    const onAbort = (): void => {
      // On a terminal, Ctrl-C reached the program too (same foreground process group).
      if (!ctx.isTTY.stdin) child.kill('SIGINT');
      timers.push(setTimeout(() => child.kill('SIGTERM'), INTERRUPT_GRACE_MS));
      timers.push(setTimeout(() => child.kill('SIGKILL'), 2 * INTERRUPT_GRACE_MS));
    };
    const done = (): void => {
      ctx.signal.removeEventListener('abort', onAbort);
      for (const t of timers) clearTimeout(t);
      if (child.stdin) ctx.stdin.unpipe(child.stdin);
    };
    child.once('error', (e) => {
      done();
      reject(new FailureError(failure('environment', 'spawn-failed', `cannot start \`${p.argv[0]}\`: ${e.message}`)));
    });
    child.once('close', (code, sig) => {
      done();
      resolve(code ?? 128 + (sig === null ? 0 : (osConstants.signals[sig] ?? 0)));
    });
    if (ctx.signal.aborted) onAbort();
    else ctx.signal.addEventListener('abort', onAbort, { once: true });
  });
}

export const runGoal: Goal = {
  name: 'run',
  help: "Run one runnable target (a run_shell_command or a system_binary) in the workspace, attached to the terminal: stdin is passed through and the program's exit code is trews' exit code. Arguments after `--` are passed to it.",
  needsBuildRoot: true,
  registerOptions(registry) {
    registry.registerScope({ name: 'run', help: this.help, isGoal: true });
  },
  async execute(g) {
    const selected = await g.targets();
    const session = startSession(g);
    const rc = session.rc;
    const runnable = selected.filter((t) => g.renv.rules.provides(t.type, RUN));
    const kinds = g.renv.rules.providers(RUN);
    if (runnable.length !== 1) {
      session.console.close();
      const specs = g.options.commandLine.specs.join(' ');
      if (runnable.length === 0) {
        throw new FailureError(
          failure('input', 'no-runnable-target', `\`run\` needs one runnable target, but none of the ${selected.length} target${selected.length === 1 ? '' : 's'} selected by \`${specs}\` is runnable`, {
            hints: [`runnable target types: ${kinds.join(', ')}`],
          }),
        );
      }
      throw new FailureError(
        failure('input', 'several-runnable-targets', `\`run\` runs one target, but \`${specs}\` selects ${runnable.length} runnable targets: ${runnable.map((t) => t.address).join(', ')}`, {
          hints: ['name just one of them, e.g. `trews run ' + runnable[0]!.address + '`'],
        }),
      );
    }
    const target = runnable[0]!;
    let prepared: InteractiveProcess;
    try {
      prepared = await rc.serve(RUN, target, { args: g.options.commandLine.passthrough, env: g.ctx.env });
    } finally {
      // What was built is summarized before the program gets the terminal.
      await session.finish();
    }
    try {
      return await runAttached(g.ctx, prepared);
    } finally {
      await prepared.cleanup?.();
    }
  },
};

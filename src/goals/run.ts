import { startExecution } from './start-execution.js';
import { spawn, type StdioOptions } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { failure, FailureError, type RunContext } from '../core/index.js';
import { RUN, type InteractiveProcess } from '../backends/index.js';
import { signalGroup, trackGroup, untrackGroup } from '../exec/index.js';
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
 * (128 + n when killed by signal n), as a shell would.
 *
 * Given a terminal itself (in-process, on any of its streams), the program
 * stays in trews' process group, the terminal's foreground one: the
 * terminal's Ctrl-C reaches it and everything it started, as it would without
 * trews. Otherwise (under the daemon, or with pipes) no terminal signals it,
 * so it leads a process group of its own, which a cancelled run interrupts as
 * a whole — SIGINT, then SIGTERM and SIGKILL for what is left — so nothing it
 * started keeps a cancelled run (or its output pipes) alive. Its own group
 * also keeps it out of whatever signals the daemon's group gets, and it is
 * tracked like a sandboxed process, so a daemon that dies does not leave it
 * running.
 */
function runAttached(ctx: RunContext, p: InteractiveProcess): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const onTerminal = (hasFd(ctx.stdin) && ctx.isTTY.stdin) || (hasFd(ctx.stdout) && ctx.isTTY.stdout) || (hasFd(ctx.stderr) && ctx.isTTY.stderr);
    const stdio: StdioOptions = [hasFd(ctx.stdin) ? ctx.stdin : 'pipe', hasFd(ctx.stdout) ? ctx.stdout : 'pipe', hasFd(ctx.stderr) ? ctx.stderr : 'pipe'];
    const child = spawn(p.argv[0]!, p.argv.slice(1), { cwd: p.cwd, env: { ...p.env }, stdio, detached: !onTerminal });
    const pgid = onTerminal ? undefined : child.pid;
    if (pgid !== undefined) trackGroup(pgid);
    const kill = (sig: NodeJS.Signals): void => {
      if (pgid !== undefined) signalGroup(pgid, sig);
      else child.kill(sig);
    };
    const timers: NodeJS.Timeout[] = [];
    let escalated = false;
    const escalate = (): void => {
      if (escalated) return;
      escalated = true;
      kill('SIGTERM');
      timers.push(setTimeout(() => kill('SIGKILL'), INTERRUPT_GRACE_MS));
    };
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // the program may exit without reading all of its input
      ctx.stdin.pipe(child.stdin);
    }
    child.stdout?.pipe(ctx.stdout, { end: false });
    child.stderr?.pipe(ctx.stderr, { end: false });
    const onAbort = (): void => {
      // On the terminal, its Ctrl-C reached the program already.
      if (!onTerminal) kill('SIGINT');
      timers.push(setTimeout(escalate, INTERRUPT_GRACE_MS));
    };
    const done = (): void => {
      ctx.signal.removeEventListener('abort', onAbort);
      for (const t of timers) clearTimeout(t);
      if (child.stdin) ctx.stdin.unpipe(child.stdin);
      if (pgid !== undefined) {
        // A cancelled run takes what is left of the group with it. After a normal exit, what the
        // program started in the background on purpose (a server, say) is its business.
        if (ctx.signal.aborted) signalGroup(pgid, 'SIGKILL');
        untrackGroup(pgid);
      }
    };
    // Interrupted, the program is done once it exits: what it left in its group would only hold its output pipes open.
    child.once('exit', () => {
      if (ctx.signal.aborted && pgid !== undefined) escalate();
    });
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
    const execution = startExecution(g);
    const rc = execution.rc;
    const runnable = selected.filter((t) => g.renv.rules.provides(t.type, RUN));
    const kinds = g.renv.rules.providers(RUN);
    if (runnable.length !== 1) {
      execution.console.close();
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
      await execution.finish();
    }
    try {
      return await runAttached(g.ctx, prepared);
    } finally {
      await prepared.cleanup?.();
    }
  },
};

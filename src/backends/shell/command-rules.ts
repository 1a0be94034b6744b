import { posix } from 'node:path';
import { failure, FailureError, toRelPath, type Digest } from '../../core/index.js';
import type { CacheScope } from '../../exec/index.js';
import { addPrefix, mergeTrees, treeFromFiles } from '../../store/index.js';
import { stringField, stringListField, type Target } from '../../targets/index.js';
import type { ProcessResult } from '../../exec/index.js';
import { processFailure, provide, TEST, testSettings, testTimeoutS, type RuleContext, type TargetRules, type TestOutcome } from '../api/index.js';
import { missingToolHints } from './missing-command.js';
import { prepareCommand, workdirOf, type CommandSpec } from './sandboxed-command.js';

function cacheScopeOf(t: Target): CacheScope {
  return stringField(t, 'cache_scope') === 'session' ? 'per-run' : 'successful';
}

function timeoutField(t: Target): number | null {
  const v = t.fields['timeout'];
  return typeof v === 'number' ? v : null;
}

const BASH = { kind: 'bash' } as const;

/** The outputs a command declared, as its ActionResult lists them (files, directories, symlinks). */
function producedPaths(result: ProcessResult): Set<string> {
  const ar = result.actionResult;
  return new Set([
    ...ar.outputFiles.map((f) => f.path),
    ...ar.outputDirectories.map((d) => d.path),
    ...ar.outputSymlinks.map((s) => s.path),
    ...ar.outputFileSymlinks.map((s) => s.path),
    ...ar.outputDirectorySymlinks.map((s) => s.path),
  ]);
}

/**
 * Runs a build step and returns its outputs at their paths from the build
 * root (they are captured relative to the working directory). A command
 * that fails, or does not produce a declared output, is an error: a
 * dependent would otherwise fail later, further from the cause. (Pants only
 * warns about missing outputs by default; we prefer the early, located error.)
 */
async function buildStepOutputs(rc: RuleContext, t: Target, spec: CommandSpec, captures: { stdout: string | null; stderr: string | null }): Promise<Digest> {
  const { process, workdir } = await prepareCommand(rc, t, spec);
  const result = await rc.execute(process);
  const location = { file: t.buildFile, line: t.line, col: t.col };
  if (result.exitCode !== 0 || result.timedOut) {
    const f = await processFailure(rc.store, `\`${t.type}\` ${t.address}`, result, spec.timeoutS, location, rc.signal);
    const missing = await missingToolHints(rc, t, result);
    throw new FailureError(missing.length > 0 ? { ...f, hints: [...missing, ...(f.hints ?? [])] } : f);
  }
  const produced = producedPaths(result);
  const missing = [...spec.outputFiles, ...spec.outputDirectories].filter((p) => !produced.has(p) && p !== '');
  if (missing.length > 0) {
    const field = spec.outputFiles.includes(missing[0]!) ? 'output_files' : 'output_directories';
    throw new FailureError(
      failure('input', 'missing-output', `\`${t.type}\` ${t.address} succeeded but did not produce ${missing.map((m) => `\`${m}\``).join(', ')}`, {
        location: await rc.fieldLocation(t, field, missing[0]),
        notes: [`declared outputs are relative to the working directory, \`${workdir === '' ? '/' : workdir}\``],
        hints: ['make the command write it there, or remove it from the declared outputs'],
      }),
    );
  }
  let tree = result.outputRoot;
  const streams = [
    { path: captures.stdout, digest: result.stdout },
    { path: captures.stderr, digest: result.stderr },
  ].filter((s): s is { path: string; digest: Digest } => s.path !== null);
  if (streams.length > 0) {
    const captured = await treeFromFiles(
      rc.store,
      streams.map((s) => ({ path: s.path, digest: s.digest, isExecutable: false })),
      rc.signal,
    );
    tree = await mergeTrees(rc.store, [tree, captured], rc.signal);
  }
  return workdir === '' ? tree : addPrefix(rc.store, tree, workdir, rc.signal);
}

export const shellCommandRules: TargetRules = {
  sandbox: {
    opaque: true,
    async contribute(rc, t) {
      const spec: CommandSpec = {
        program: BASH,
        args: ['-c', stringField(t, 'command') ?? ''],
        extraInputs: [],
        outputFiles: stringListField(t, 'output_files'),
        outputDirectories: stringListField(t, 'output_directories'),
        timeoutS: timeoutField(t),
        cacheScope: cacheScopeOf(t),
      };
      return buildStepOutputs(rc, t, spec, { stdout: null, stderr: null });
    },
  },
};

/** A test_shell_command's test: its command in a sandbox of its execution dependencies. */
async function runTest(rc: RuleContext, t: Target): Promise<TestOutcome> {
  const settings = await testSettings(rc);
  const timeoutS = testTimeoutS(t, settings);
  const { process } = await prepareCommand(rc, t, {
    program: BASH,
    args: ['-c', stringField(t, 'command') ?? ''],
    extraInputs: [],
    outputFiles: [],
    outputDirectories: [],
    timeoutS,
    // Failures are never cached (Pants re-runs failed tests); --test-force reruns successes too.
    cacheScope: settings.force ? 'per-run' : 'successful',
  });
  const result = await rc.execute(process);
  const hints = await missingToolHints(rc, t, result);
  return { result, timeoutS, ...(hints.length > 0 ? { hints } : {}) };
}

export const testShellCommandRules: TargetRules = {
  // A test contributes nothing to others, and its execution dependencies are its own.
  sandbox: { opaque: true },
  provides: [provide(TEST, runTest)],
};

/**
 * An adhoc_tool's program: a system_binary (the binary it finds, on the
 * PATH under the target's name) or a shell_source (run by bash, from the sandbox).
 */
async function adhocProgram(rc: RuleContext, t: Target, workdir: string): Promise<Pick<CommandSpec, 'program' | 'args' | 'extraInputs'>> {
  const raw = stringField(t, 'runnable') ?? '';
  const [addr] = await rc.addressField(t, 'runnable', [raw]);
  const args = stringListField(t, 'args');
  const runnable = addr === undefined ? undefined : await rc.target(addr);
  if (runnable?.type === 'system_binary') return { program: { kind: 'system_binary', target: runnable }, args, extraInputs: [] };
  if (runnable?.type === 'shell_source' && runnable.sources.length === 1) {
    const script = posix.relative(workdir === '' ? '.' : workdir, runnable.sources[0]!);
    return { program: BASH, args: [script, ...args], extraInputs: [runnable.addr] };
  }
  throw new FailureError(
    failure('input', 'not-runnable', `\`runnable\` of ${t.address} must be the address of a \`system_binary\` or a \`shell_source\`; ${runnable?.address ?? raw} is ${runnable ? `a \`${runnable.type}\`` : 'not a single target'}`, {
      location: await rc.fieldLocation(t, 'runnable'),
    }),
  );
}

/** `stdout` / `stderr` of an adhoc_tool: a file path below the working directory, or null. */
async function capturePath(rc: RuleContext, t: Target, field: 'stdout' | 'stderr'): Promise<string | null> {
  const raw = stringField(t, field);
  if (raw === null) return null;
  const rel = raw.startsWith('/') ? undefined : toRelPath(raw);
  if (rel === undefined || rel === '') {
    throw new FailureError(
      failure('input', 'bad-output-path', `\`${field}\` of ${t.address} (\`${raw}\`) must be a file path relative to the working directory, inside it`, {
        location: await rc.fieldLocation(t, field),
      }),
    );
  }
  return rel;
}

export const adhocToolRules: TargetRules = {
  sandbox: {
    opaque: true,
    async contribute(rc, t) {
      const workdir = await workdirOf(rc, t);
      const program = await adhocProgram(rc, t, workdir);
      const spec: CommandSpec = {
        ...program,
        outputFiles: stringListField(t, 'output_files'),
        outputDirectories: stringListField(t, 'output_directories'),
        timeoutS: timeoutField(t),
        cacheScope: cacheScopeOf(t),
      };
      return buildStepOutputs(rc, t, spec, { stdout: await capturePath(rc, t, 'stdout'), stderr: await capturePath(rc, t, 'stderr') });
    },
  },
};

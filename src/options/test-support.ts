import type { Failure, Result } from '../core/index.js';
import { parseCommandLine } from './command-line.js';
import { registerGlobalOptions } from './global-options.js';
import type { Options } from './options.js';
import { OptionRegistry } from './registry.js';
import { resolveOptions } from './resolve.js';

/**
 * The registry the option tests share: the real GLOBAL options plus a goal with
 * a short-named option (`test`), a second goal, and a dashed subsystem scope
 * (`remote-server`), which are the shapes flag and env naming must get right.
 */
export function sampleRegistry(): OptionRegistry {
  const r = new OptionRegistry();
  registerGlobalOptions(r);
  r.registerScope({ name: 'test', help: 'Run tests.', isGoal: true });
  r.registerScope({ name: 'list', help: 'List targets.', isGoal: true });
  r.registerScope({ name: 'remote-server', help: 'The built-in REAPI server.', isGoal: false });
  r.registerScope({ name: 'shell', help: 'Shell scripts.', isGoal: false });
  r.register({ scope: 'test', name: 'timeout', type: 'int', default: 60, help: 'Seconds per test.' });
  r.register({ scope: 'test', name: 'debug', type: 'bool', default: false, help: 'Run tests one at a time, interactively.' });
  r.register({ scope: 'test', name: 'output', type: 'enum', choices: ['all', 'failed', 'none'], default: 'failed', help: 'Which test output to show.' });
  r.register({ scope: 'test', name: 'shard_sizes', type: 'list', memberType: 'int', default: [], help: 'Shard sizes.' });
  r.register({ scope: 'test', name: 'ratio', type: 'float', default: 0.5, help: 'A float.' });
  r.register({ scope: 'list', name: 'documented', type: 'bool', default: false, help: 'Show descriptions.' });
  r.register({ scope: 'remote-server', name: 'workers', type: 'int', default: 4, help: 'Worker count.' });
  r.register({ scope: 'remote-server', name: 'address', type: 'string', default: '127.0.0.1:0', help: 'Listen address.' });
  r.register({ scope: 'shell', name: 'tools', type: 'list', default: ['bash'], help: 'Tools to put on PATH.' });
  r.register({ scope: 'shell', name: 'env', type: 'dict', default: { A: '1' }, help: 'Env.' });
  r.register({ scope: 'shell', name: 'cache_dir', type: 'path', default: null, help: 'A path.' });
  return r;
}

export interface SampleInput {
  readonly argv?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly config?: string;
  readonly registry?: OptionRegistry;
}

export const BUILD_ROOT = '/repo';
export const HOME = '/home/me';

/** Parses argv and resolves options against the sample registry, with trews.toml at the build root. */
export function resolveSample(input: SampleInput = {}): Result<Options, Failure> {
  const registry = input.registry ?? sampleRegistry();
  const cl = parseCommandLine(input.argv ?? [], registry);
  if (!cl.ok) return cl;
  return resolveOptions({
    registry,
    commandLine: cl.value,
    env: input.env ?? {},
    config: input.config === undefined ? null : { path: `${BUILD_ROOT}/trews.toml`, text: input.config },
    buildRoot: BUILD_ROOT,
    homeDir: HOME,
  });
}

/** The options, or a thrown error showing the failure: for tests that expect success. */
export function expectOptions(r: Result<Options, Failure>): Options {
  if (!r.ok) throw new Error(`expected options, got failure: ${r.failure.reason}: ${r.failure.message}`);
  return r.value;
}

/** The failure, or a thrown error: for tests that expect one. */
export function expectFailure<T>(r: Result<T, Failure>): Failure {
  if (r.ok) throw new Error('expected a failure, got a value');
  return r.failure;
}

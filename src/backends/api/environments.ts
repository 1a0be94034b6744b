import { closest, failure, FailureError, isFailureError, type Failure, type Location } from '../../core/index.js';
import type { ComputeContext } from '../../engine/index.js';
import type { PlatformProperty } from '../../exec/index.js';
import { formatAddress, parseAddressInput, resolveAddressInput, stringField, stringListField, type Target } from '../../targets/index.js';
import {
  DEFAULT_REMOTE_SEARCH_PATHS,
  ENVIRONMENTS_SCOPE,
  LOCAL_ENVIRONMENT,
  LOCAL_ENVIRONMENT_TYPE,
  platformProperties,
  REMOTE_ENVIRONMENT_TYPE,
  type PlatformName,
} from './environment-types.js';
import type { RuleContext } from './rule-context.js';
import { HostPlatformKey, RemoteExecutionServerKey } from './run-inputs.js';

/** Where a target's processes run, resolved from its `environment` field. */
export type Environment = LocalEnvironment | RemoteEnvironment;

interface EnvironmentBase {
  /** The name the target used (`__local__`, `linux_remote`). */
  readonly name: string;
  /** The environment target, or null for the built-in `__local__`. */
  readonly address: string | null;
}

export interface LocalEnvironment extends EnvironmentBase {
  readonly kind: 'local';
  /** Where tools are looked up on this machine; null: the backend's own option (`[shell] executable_search_paths`). */
  readonly searchPaths: readonly string[] | null;
  /** Platforms it runs on; empty: any. */
  readonly compatiblePlatforms: readonly string[];
}

export interface RemoteEnvironment extends EnvironmentBase {
  readonly kind: 'remote';
  /** Its REAPI platform: `platform` as OSFamily/ISA, overridden by name by `extra_platform_properties`; unsorted (toAction sorts). */
  readonly platform: readonly PlatformProperty[];
  /** Where tools are looked up on the worker, when the process starts. */
  readonly searchPaths: readonly string[];
}

const BUILTIN_LOCAL: LocalEnvironment = { kind: 'local', name: LOCAL_ENVIRONMENT, address: null, searchPaths: null, compatiblePlatforms: [] };

/** `name (//envs:linux, a remote_environment)` for messages. */
export function describeEnvironment(e: Environment): string {
  if (e.address === null) return `\`${e.name}\` (this machine)`;
  return `\`${e.name}\` (${e.address}, a ${e.kind === 'local' ? LOCAL_ENVIRONMENT_TYPE : REMOTE_ENVIRONMENT_TYPE})`;
}

/**
 * The environment `t` runs its processes in: its `environment` field, else
 * `[environments] default`, looked up in `[environments] names`. Checks it
 * can run here (see checkRunnable), so a target that cannot says why before
 * anything runs. Errors point at the field, or name the option that made the
 * name mean what it does.
 */
export async function environmentOf(rc: RuleContext, t: Target): Promise<Environment> {
  const opts = await rc.options(ENVIRONMENTS_SCOPE);
  const written = stringField(t, 'environment');
  const name = written ?? opts.string('default');
  const where = async (): Promise<Location> => (written !== null ? rc.fieldLocation(t, 'environment') : { file: t.buildFile, line: t.line, col: t.col });
  const via = written !== null ? `\`environment\` of ${t.address}` : `\`[${ENVIRONMENTS_SCOPE}] default\`, the environment of ${t.address}`;
  const names = opts.dict('names') as Readonly<Record<string, unknown>>;
  const raw = names[name];
  let env: Environment;
  if (raw === undefined) {
    if (name !== LOCAL_ENVIRONMENT) {
      const known = Object.keys(names).sort();
      const near = closest(name, [...known, LOCAL_ENVIRONMENT]);
      throw new FailureError(
        failure('input', 'unknown-environment', `unknown environment \`${name}\` (${via})`, {
          location: await where(),
          notes: [known.length > 0 ? `\`[${ENVIRONMENTS_SCOPE}] names\` defines: ${known.join(', ')}` : `\`[${ENVIRONMENTS_SCOPE}] names\` defines none`],
          hints: [
            ...(near !== undefined ? [`did you mean \`${near}\`?`] : []),
            `map the name to an environment target in trews.toml: [${ENVIRONMENTS_SCOPE}] names = { ${name} = "//envs:${name}" }, or use \`${LOCAL_ENVIRONMENT}\` (this machine)`,
          ],
        }),
      );
    }
    env = BUILTIN_LOCAL;
  } else {
    env = await environmentTarget(rc, name, raw, via, await where());
  }
  await checkRunnable(rc, t, env, await where());
  return env;
}

/** The environment target `raw` (a value of `[environments] names`) names. */
async function environmentTarget(rc: RuleContext, name: string, raw: unknown, via: string, location: Location): Promise<Environment> {
  const option = `\`[${ENVIRONMENTS_SCOPE}] names\``;
  const bad = (reason: string, message: string, hints: string[]): FailureError =>
    new FailureError(failure('input', reason, message, { location, notes: [`\`${name}\` is ${via}`], hints }));
  if (typeof raw !== 'string') {
    throw bad('bad-environment-address', `${option} maps \`${name}\` to ${JSON.stringify(raw)}, not an address`, [`write the address of a local_environment or remote_environment target: ${name} = "//envs:${name}"`]);
  }
  const input = parseAddressInput(raw, '');
  if (typeof input === 'string') {
    throw bad('bad-environment-address', `${option} maps \`${name}\` to ${input}`, [`write the address from the build root, e.g. ${name} = "//envs:${name}"`]);
  }
  let addrs;
  try {
    addrs = await resolveAddressInput(rc.reader as ComputeContext, rc.project, input, { what: `which ${option} maps \`${name}\` to` });
  } catch (e) {
    if (isFailureError(e) && e.failure.tag === 'input') {
      const f: Failure = e.failure;
      throw new FailureError({ ...f, location: f.location ?? location, notes: [...(f.notes ?? []), `\`${name}\` is ${via}`], hints: [...(f.hints ?? []), `fix the address in ${option} in trews.toml`] });
    }
    throw e;
  }
  const [addr] = addrs;
  if (addr === undefined || addrs.length !== 1) {
    throw bad('bad-environment-address', `${option} maps \`${name}\` to \`${raw}\`, which names ${addrs.length} targets, not one environment`, [`name one target: ${name} = "//envs:${name}"`]);
  }
  const target = await rc.target(addr);
  const address = formatAddress(addr);
  if (target.type === LOCAL_ENVIRONMENT_TYPE) {
    const paths = target.fields['executable_search_paths'];
    return {
      kind: 'local',
      name,
      address,
      searchPaths: paths === null || paths === undefined ? null : stringListField(target, 'executable_search_paths'),
      compatiblePlatforms: stringListField(target, 'compatible_platforms'),
    };
  }
  if (target.type === REMOTE_ENVIRONMENT_TYPE) {
    const extra = stringListField(target, 'extra_platform_properties').map((kv) => {
      const eq = kv.indexOf('=');
      return { name: kv.slice(0, eq), value: kv.slice(eq + 1) };
    });
    const own = new Set(extra.map((p) => p.name));
    const base = platformProperties((stringField(target, 'platform') ?? 'linux_x86_64') as PlatformName).filter((p) => !own.has(p.name));
    const paths = target.fields['executable_search_paths'];
    return {
      kind: 'remote',
      name,
      address,
      platform: [...base, ...extra],
      searchPaths: paths === null || paths === undefined ? DEFAULT_REMOTE_SEARCH_PATHS : stringListField(target, 'executable_search_paths'),
    };
  }
  throw bad('not-an-environment', `${option} maps \`${name}\` to ${address}, a \`${target.type}\`, not an environment`, [
    `point \`${name}\` at a ${LOCAL_ENVIRONMENT_TYPE}(...) or ${REMOTE_ENVIRONMENT_TYPE}(...) target`,
  ]);
}

/**
 * Whether this run can run processes in `env`: a local environment only on
 * a host among its `compatible_platforms`; a remote one only with
 * `remote_execution_server` set (its processes go there even when
 * `remote_execution` is off). Both are inputs of the run, so a daemon
 * re-checks when they change.
 */
async function checkRunnable(rc: RuleContext, t: Target, env: Environment, location: Location): Promise<void> {
  if (env.kind === 'remote') {
    if (await rc.get(new RemoteExecutionServerKey())) return;
    throw new FailureError(
      failure('input', 'environment-needs-remote-server', `${t.address} cannot run: its environment ${describeEnvironment(env)} runs processes remotely, and remote_execution_server is not set`, {
        location,
        hints: ['set remote_execution_server (and remote_store_server) in [GLOBAL] of trews.toml, or with --remote-execution-server=grpc://HOST:PORT; remote_execution itself may stay off'],
      }),
    );
  }
  const compatible = env.compatiblePlatforms;
  if (compatible.length === 0) return;
  const host = await rc.get(new HostPlatformKey());
  if (host !== undefined && compatible.includes(host)) return;
  throw new FailureError(
    failure('input', 'environment-incompatible', `${t.address} cannot run here: its environment ${describeEnvironment(env)} is for ${compatible.join(', ')}, and this machine is ${host ?? 'of a platform trews has no name for'}`, {
      location,
      hints: [`run it on a ${compatible.join(' or ')} machine, or set its \`environment\` to one this machine can run (\`${LOCAL_ENVIRONMENT}\`, or a remote_environment)`],
    }),
  );
}

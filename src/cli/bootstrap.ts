import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { err, failure, ok, TREWS_VERSION, type Failure, type Result } from '../core/index.js';
import type { DaemonOptionsRecord } from '../daemon/index.js';
import {
  daemonFingerprint,
  daemonOptionSnapshot,
  envVarName,
  GLOBAL,
  OptionRegistry,
  parseBool,
  registerGlobalOptions,
  resolveOptions,
  type FlagValue,
  type Options,
} from '../options/index.js';
import { CONFIG_FILE } from './build-root.js';

/**
 * The bootstrap options of a command line: the GLOBAL options, which include
 * every option a daemon depends on, read without knowing goals or backends.
 */
export interface Bootstrap {
  readonly options: Options;
  /** SHA-256 of the version and every `daemon: true` option: a daemon serves only clients with its fingerprint. */
  readonly fingerprint: string;
  /** What the fingerprint hashes, kept in the daemon's metadata to say which option changed. */
  readonly record: DaemonOptionsRecord;
}

export interface BootstrapInput {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly root: string;
  readonly homeDir: string;
}

/**
 * Resolves the GLOBAL options of `argv` from the same sources a run uses,
 * leniently, as Pants reads its bootstrap options: flags, env vars and
 * trews.toml sections of goals and backends are skipped rather than checked.
 * That keeps the thin client from loading every goal and backend (and whatever
 * they import) just to choose a daemon; the run itself checks everything.
 *
 * Both the client (to find a daemon with its fingerprint) and the daemon (to
 * know its own) call this on the same input, so they agree by construction. A
 * Failure when the GLOBAL options themselves have an error, which the run will
 * report in full.
 */
export function readBootstrap(input: BootstrapInput): Result<Bootstrap, Failure> {
  const registry = new OptionRegistry();
  registerGlobalOptions(registry);
  let text: string;
  try {
    text = readFileSync(join(input.root, CONFIG_FILE), 'utf8');
  } catch (e) {
    return err(failure('environment', 'config-unreadable', `cannot read ${join(input.root, CONFIG_FILE)}: ${(e as Error).message}`));
  }
  const config = globalSection(text);
  if (!config.ok) return config;
  const resolved = resolveOptions({
    registry,
    commandLine: { goals: [], specs: [], passthrough: [], flags: globalFlags(input.argv, registry) },
    env: globalEnv(input.env, registry),
    config: { path: CONFIG_FILE, text: config.value },
    buildRoot: input.root,
    homeDir: input.homeDir,
  });
  if (!resolved.ok) return resolved;
  const options = resolved.value;
  return ok({
    options,
    fingerprint: daemonFingerprint(options, TREWS_VERSION),
    record: { version: TREWS_VERSION, options: daemonOptionSnapshot(options) },
  });
}

/**
 * True when the command line or the environment alone turn the daemon off
 * (`--no-daemon`, `TREWS_DAEMON=false`: how CI runs trews), which outrank
 * trews.toml: the client then runs the command in-process without reading
 * the bootstrap options, as it would after reading them. False when only
 * readBootstrap can tell.
 */
export function daemonOffByFlagOrEnv(argv: readonly string[], env: Readonly<Record<string, string>>): boolean {
  const isFalse = (text: string): boolean => parseBool(text) === false;
  let off: boolean | undefined;
  for (const arg of argv) {
    if (arg === '--') break;
    // The last flag wins; one whose value is no bool is the run's error to report.
    if (arg === '--no-daemon') off = true;
    else if (arg === '--daemon') off = false;
    else if (arg.startsWith('--daemon=')) off = isFalse(arg.slice('--daemon='.length));
  }
  if (off !== undefined) return off;
  const value = env[envVarName(GLOBAL, 'daemon')];
  return value !== undefined && isFalse(value);
}

/**
 * The flags of `argv` that set GLOBAL options (`--level=debug`, `--no-daemon`),
 * up to `--`. Goals, specs and the options of goals are left to the run.
 */
export function globalFlags(argv: readonly string[], registry: OptionRegistry): FlagValue[] {
  const flags: FlagValue[] = [];
  for (const arg of argv) {
    if (arg === '--') break;
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const body = flag.slice(2);
    if (body.includes('_')) continue;
    const direct = registry.option(GLOBAL, body.replace(/-/g, '_'));
    const negated = direct === undefined && body.startsWith('no-') ? registry.option(GLOBAL, body.slice(3).replace(/-/g, '_')) : undefined;
    if (direct !== undefined) {
      if (eq >= 0) flags.push({ scope: GLOBAL, name: direct.name, raw: arg.slice(eq + 1), flag });
      else if (direct.type === 'bool') flags.push({ scope: GLOBAL, name: direct.name, raw: 'true', flag });
    } else if (negated !== undefined && negated.type === 'bool' && eq < 0) {
      flags.push({ scope: GLOBAL, name: negated.name, raw: 'false', flag });
    }
  }
  return flags;
}

/** The environment without `TREWS_*` variables that are not GLOBAL options (those belong to goals and backends). */
export function globalEnv(env: Readonly<Record<string, string>>, registry: OptionRegistry): Record<string, string> {
  const known = new Set<string>();
  for (const spec of registry.options(GLOBAL)) for (const n of [spec.name, ...(spec.aliases ?? [])]) known.add(envVarName(GLOBAL, n));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith('TREWS_') || known.has(k)) out[k] = v;
  return out;
}

/** trews.toml reduced to its [GLOBAL] section (sections of goals and backends are not known here). */
export function globalSection(text: string): Result<string, Failure> {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    return err(failure('input', 'config-syntax', `${CONFIG_FILE}: ${(e as Error).message.split('\n')[0]}`));
  }
  const global = doc[GLOBAL];
  if (typeof global !== 'object' || global === null || Array.isArray(global)) return ok('');
  return ok(stringifyToml({ [GLOBAL]: global }));
}

import { create } from '@bufbuild/protobuf';
import { err, failure, ok, type Result } from '../core/index.js';
import {
  ActionSchema,
  Command_EnvironmentVariableSchema,
  CommandSchema,
  Platform_PropertySchema,
  PlatformSchema,
  type Action,
  type Command,
  type Platform,
} from './schemas.js';
import { compareUtf8, isWellFormedUnicode } from './utf8-order.js';

/**
 * Platform properties sorted by name, then value. Repeated names are legal
 * in REAPI and kept; an identical name/value pair is kept too, because other
 * clients do not drop it and the digest must match theirs.
 */
export function canonicalPlatform(p: Platform): Platform {
  return create(PlatformSchema, {
    properties: p.properties
      .map((q) => create(Platform_PropertySchema, { name: q.name, value: q.value }))
      .sort((a, b) => compareUtf8(a.name, b.name) || compareUtf8(a.value, b.value)),
  });
}

/** An Action whose platform is canonical. Absent stays absent: an empty Platform encodes differently. */
export function canonicalAction(a: Action): Action {
  return create(ActionSchema, {
    commandDigest: a.commandDigest,
    inputRootDigest: a.inputRootDigest,
    timeout: a.timeout,
    doNotCache: a.doNotCache,
    salt: a.salt,
    platform: a.platform === undefined ? undefined : canonicalPlatform(a.platform),
  });
}

/**
 * Checks an output path as REAPI defines it: relative, '/'-separated, no
 * leading or trailing slash, no empty, '.' or '..' segment. The empty path
 * (the whole working directory) is allowed where `allowEmpty`.
 */
export function checkOutputPath(path: string, allowEmpty: boolean): string | undefined {
  if (path === '') return allowEmpty ? undefined : 'is empty';
  if (path.includes('\0')) return 'contains a NUL character';
  if (!isWellFormedUnicode(path)) return 'is not valid Unicode';
  if (path.startsWith('/')) return 'is absolute';
  for (const seg of path.split('/')) {
    if (seg === '') return 'has an empty segment or a trailing slash';
    if (seg === '.' || seg === '..') return `has a '${seg}' segment`;
  }
  return undefined;
}

function sortedUnique(xs: readonly string[]): string[] {
  const out = [...xs].sort(compareUtf8);
  return out.filter((x, i) => i === 0 || x !== out[i - 1]);
}

/**
 * Returns `cmd` in canonical form: environment variables sorted by name,
 * output paths (all three kinds) and output node properties sorted and
 * deduplicated, the deprecated Command.platform canonical. Fails on a
 * variable set twice (which value would win is up to the worker, so the
 * action would not be reproducible) or on a malformed output path.
 */
export function canonicalCommand(cmd: Command): Result<Command> {
  const env = cmd.environmentVariables
    .map((v) => create(Command_EnvironmentVariableSchema, { name: v.name, value: v.value }))
    .sort((a, b) => compareUtf8(a.name, b.name));
  for (let i = 1; i < env.length; i++) {
    if (env[i]?.name === env[i - 1]?.name) {
      return err(failure('input', 'duplicate-environment-variable', `environment variable ${JSON.stringify(env[i]?.name)} is set more than once`));
    }
  }
  for (const v of env) {
    if (v.name === '' || v.name.includes('=') || v.name.includes('\0')) {
      return err(failure('input', 'invalid-environment-variable', `invalid environment variable name ${JSON.stringify(v.name)}`));
    }
  }
  const lists: Array<[string, readonly string[], boolean]> = [
    ['output_files', cmd.outputFiles, false],
    ['output_directories', cmd.outputDirectories, true],
    ['output_paths', cmd.outputPaths, true],
  ];
  for (const [field, paths, allowEmpty] of lists) {
    for (const p of paths) {
      const why = checkOutputPath(p, allowEmpty);
      if (why !== undefined) {
        return err(failure('input', 'invalid-output-path', `${field} entry ${JSON.stringify(p)} ${why}`));
      }
    }
  }
  return ok(
    create(CommandSchema, {
      arguments: [...cmd.arguments],
      environmentVariables: env,
      outputFiles: sortedUnique(cmd.outputFiles),
      outputDirectories: sortedUnique(cmd.outputDirectories),
      outputPaths: sortedUnique(cmd.outputPaths),
      platform: cmd.platform === undefined ? undefined : canonicalPlatform(cmd.platform),
      workingDirectory: cmd.workingDirectory,
      outputNodeProperties: sortedUnique(cmd.outputNodeProperties),
      outputDirectoryFormat: cmd.outputDirectoryFormat,
    }),
  );
}

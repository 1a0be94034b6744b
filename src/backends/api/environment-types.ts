import type { FieldSpec, FieldValue, TargetType } from '../../targets/index.js';

/**
 * Environment targets (Pants' `local_environment` and `remote_environment`):
 * where the processes of a target run, and which platform they ask for.
 * Targets name an environment by a name that `[environments] names` in
 * trews.toml maps to the address of one of these.
 */

export const LOCAL_ENVIRONMENT_TYPE = 'local_environment';
export const REMOTE_ENVIRONMENT_TYPE = 'remote_environment';
export const ENVIRONMENTS_SCOPE = 'environments';
/** Pants' name for this machine: the environment of targets that name none. */
export const LOCAL_ENVIRONMENT = '__local__';

/** The platforms an environment can be for, with Pants' names. */
export const PLATFORMS = ['linux_x86_64', 'linux_arm64', 'macos_x86_64', 'macos_arm64'] as const;
export type PlatformName = (typeof PLATFORMS)[number];

/**
 * The REAPI platform properties a platform name stands for: `OSFamily` (the
 * name Bazel and most servers use) and `ISA`. A remote environment's
 * `extra_platform_properties` override them by name.
 */
export function platformProperties(p: PlatformName): { name: string; value: string }[] {
  const cut = p.indexOf('_');
  const os = p.slice(0, cut);
  const arch = p.slice(cut + 1);
  return [
    { name: 'OSFamily', value: os },
    { name: 'ISA', value: arch === 'x86_64' ? 'x86-64' : arch },
  ];
}

/** The platform name of a Node.js `process.platform` / `process.arch` pair, or undefined for one we have no name for. */
export function platformOfHost(platform: string, arch: string): PlatformName | undefined {
  const os = platform === 'linux' ? 'linux' : platform === 'darwin' ? 'macos' : undefined;
  const isa = arch === 'x64' ? 'x86_64' : arch === 'arm64' ? 'arm64' : undefined;
  if (os === undefined || isa === undefined) return undefined;
  return `${os}_${isa}` as PlatformName;
}

const absoluteDirs = (v: FieldValue): string | undefined => {
  const bad = (v as readonly string[] | null)?.find((d) => !d.startsWith('/'));
  return bad === undefined ? undefined : `must hold absolute directories; \`${bad}\` is not one`;
};

const knownPlatforms = (v: FieldValue): string | undefined => {
  const bad = (v as readonly string[] | null)?.find((p) => !(PLATFORMS as readonly string[]).includes(p));
  return bad === undefined ? undefined : `\`${bad}\` is not a platform; use one of ${PLATFORMS.join(', ')}`;
};

const keyValues = (v: FieldValue): string | undefined => {
  const bad = (v as readonly string[] | null)?.find((kv) => kv.indexOf('=') <= 0);
  return bad === undefined ? undefined : `\`${bad}\` is not KEY=VALUE (e.g. container-image=docker://debian:12)`;
};

const searchPaths = (where: string, dflt: readonly string[] | null): FieldSpec => ({
  name: 'executable_search_paths',
  type: { kind: 'string_list' },
  default: dflt === null ? null : [...dflt],
  validate: absoluteDirs,
  help: `Absolute directories where the programs of targets in this environment (\`tools\`, bash) are looked up ${where}.`,
});

export const localEnvironmentTarget: TargetType = {
  alias: LOCAL_ENVIRONMENT_TYPE,
  help: [
    'This machine as an environment: processes run in a local sandbox. Name it in `[environments] names` and set `environment` of targets to that name.',
    '`compatible_platforms` says which machines it is for: on any other, a target using it is refused before anything runs.',
  ].join(' '),
  fields: [
    {
      name: 'compatible_platforms',
      type: { kind: 'string_list' },
      default: [],
      validate: knownPlatforms,
      help: `The platforms this environment can run on (${PLATFORMS.join(', ')}); empty: any.`,
    },
    searchPaths('on this machine, instead of `[shell] executable_search_paths`; unset: that option', null),
  ],
};

/** Where a remote environment's tools are looked up when it names no directories. */
export const DEFAULT_REMOTE_SEARCH_PATHS: readonly string[] = ['/usr/local/bin', '/usr/bin', '/bin'];

export const remoteEnvironmentTarget: TargetType = {
  alias: REMOTE_ENVIRONMENT_TYPE,
  help: [
    'A remote execution worker as an environment: processes of targets using it run on `remote_execution_server`, even when `remote_execution` is off, and ask for its platform.',
    '`platform` becomes the REAPI platform properties OSFamily and ISA (`linux_x86_64` → OSFamily=linux, ISA=x86-64); `extra_platform_properties` adds more or overrides those by name.',
    'Tools are found on the worker, by name, on `executable_search_paths`: nothing of this machine is part of the action.',
  ].join(' '),
  fields: [
    {
      name: 'platform',
      type: { kind: 'enum', choices: PLATFORMS },
      default: 'linux_x86_64',
      help: 'The platform of the workers, as OSFamily and ISA platform properties of every action.',
    },
    {
      name: 'extra_platform_properties',
      type: { kind: 'string_list' },
      default: [],
      validate: keyValues,
      help: 'More platform properties of every action, each KEY=VALUE (e.g. container-image=docker://debian:12). A name also set by `platform` overrides it; the global `remote_execution_extra_platform_properties` come under these.',
    },
    searchPaths(`on the worker, when the process starts (default: ${DEFAULT_REMOTE_SEARCH_PATHS.join(', ')})`, DEFAULT_REMOTE_SEARCH_PATHS),
  ],
};

import { ENVIRONMENTS_SCOPE, LOCAL_ENVIRONMENT, localEnvironmentTarget, PLATFORMS, remoteEnvironmentTarget, type Backend, type TargetRules } from '../api/index.js';
import { fileTarget, filesTarget, resourceTarget, resourcesTarget, targetTarget } from './target-types.js';

/** Loose files and resources put themselves in a dependent's sandbox, at their paths from the build root. */
const ownSources: TargetRules = { sandbox: { sources: true } };

/** Target types every build has: generic targets, loose files and resources. */
export const coreBackend: Backend = {
  name: 'core',
  targets: [
    { type: targetTarget },
    { type: fileTarget, rules: ownSources },
    { type: filesTarget, rules: ownSources },
    { type: resourceTarget, rules: ownSources },
    { type: resourcesTarget, rules: ownSources },
    { type: localEnvironmentTarget },
    { type: remoteEnvironmentTarget },
  ],
  registerOptions(registry) {
    registry.registerScope({
      name: ENVIRONMENTS_SCOPE,
      help: 'Where processes run: names for local_environment and remote_environment targets, which targets name in their `environment` field.',
      isGoal: false,
    });
    registry.register({
      scope: ENVIRONMENTS_SCOPE,
      name: 'names',
      type: 'dict',
      default: {},
      validate: (v) => {
        const bad = Object.entries(v as Record<string, unknown>).find(([, a]) => typeof a !== 'string');
        return bad === undefined ? undefined : `\`${bad[0]}\` must map to an address (a string such as "//envs:${bad[0]}")`;
      },
      help: `Environment names → addresses of their targets, e.g. {linux_remote = "//envs:linux"}. \`${LOCAL_ENVIRONMENT}\` (this machine) needs no entry.`,
    });
    registry.register({
      scope: ENVIRONMENTS_SCOPE,
      name: 'default',
      type: 'string',
      default: LOCAL_ENVIRONMENT,
      help: 'The environment of targets whose `environment` field is unset.',
    });
    registry.register({
      scope: ENVIRONMENTS_SCOPE,
      name: 'host_platform',
      type: 'string',
      default: null,
      advanced: true,
      validate: (v) => (v === null || (PLATFORMS as readonly string[]).includes(v as string) ? undefined : `must be one of ${PLATFORMS.join(', ')}`),
      help: `The platform of this machine, as \`compatible_platforms\` of local environments see it; unset: detected. Set it to see what a build does on another machine (tests do); it never changes what a remote environment's processes are.`,
    });
  },
};

import type { Backend, TargetRules } from '../api/index.js';
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
  ],
};

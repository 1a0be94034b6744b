import type { Address, DependencyInferrer } from '../../targets/index.js';
import { PATH_TOKEN, resolveAddressField, SHELL_SCOPE, SYSTEM_BINARIES_SCOPE, type Backend, type TargetRules } from '../api/index.js';
import { archiveRules } from './archive-rules.js';
import { adhocToolRules, shellCommandRules, testShellCommandRules } from './command-rules.js';
import { runShellCommandRules, systemBinaryRules } from './run-rules.js';
import {
  adhocToolTarget,
  archiveTarget,
  runShellCommandTarget,
  shellCommandTarget,
  shellSourcesTarget,
  shellSourceTarget,
  systemBinaryTarget,
  testShellCommandTarget,
} from './target-types.js';
export { writeArchive, type ArchiveFormat } from './archive-writer.js';

const ownSources: TargetRules = { sandbox: { sources: true } };

/** Address fields that are dependencies in all but name, by target type. */
const ADDRESS_FIELDS: Readonly<Record<string, readonly string[]>> = {
  shell_command: ['execution_dependencies', 'runnable_dependencies'],
  test_shell_command: ['execution_dependencies', 'runnable_dependencies'],
  run_shell_command: ['execution_dependencies'],
  adhoc_tool: ['runnable', 'execution_dependencies', 'runnable_dependencies'],
  archive: ['files', 'packages'],
};

/**
 * Makes `execution_dependencies`, `runnable`, `files`… show in `dependencies`,
 * `dependents` and `--changed-dependents`, as Pants shows its special-cased
 * dependency fields. Sandboxes do not follow these edges blindly: a closure
 * stops at these targets (their rules are opaque) and takes what they make.
 */
const specialCasedDependencies: DependencyInferrer = {
  name: 'shell-special-cased-dependencies',
  appliesTo: (t) => t.type in ADDRESS_FIELDS,
  async infer(ctx, project, t) {
    const out: Address[] = [];
    for (const field of ADDRESS_FIELDS[t.type] ?? []) {
      const v = t.fields[field];
      const raws = typeof v === 'string' ? [v] : Array.isArray(v) ? (v as string[]) : [];
      if (raws.length > 0) out.push(...(await resolveAddressField(ctx, project, t, field, raws)));
    }
    return out;
  },
};

/**
 * Shell: scripts, hermetic shell commands and tests, ad-hoc tools, programs
 * of the machine, and archives (which Pants keeps in its core backend).
 */
export const shellBackend: Backend = {
  name: 'shell',
  targets: [
    { type: shellSourceTarget, rules: ownSources },
    { type: shellSourcesTarget, rules: ownSources },
    { type: shellCommandTarget, rules: shellCommandRules },
    { type: testShellCommandTarget, rules: testShellCommandRules },
    { type: runShellCommandTarget, rules: runShellCommandRules },
    { type: adhocToolTarget, rules: adhocToolRules },
    { type: systemBinaryTarget, rules: systemBinaryRules },
    { type: archiveTarget, rules: archiveRules },
  ],
  inferrers: [specialCasedDependencies],
  registerOptions(registry) {
    registry.registerScope({ name: SHELL_SCOPE, help: 'Options for shell targets (shell_command, test_shell_command, adhoc_tool).', isGoal: false });
    registry.register({
      scope: SHELL_SCOPE,
      name: 'executable_search_paths',
      type: 'list',
      default: [PATH_TOKEN],
      help: `Absolute directories where the programs named in \`tools\` (and bash, which runs every command) are looked up, in order. \`${PATH_TOKEN}\` stands for the PATH of the trews client. (Pants calls this [shell-setup].executable_search_paths.)`,
    });
    registry.registerScope({ name: SYSTEM_BINARIES_SCOPE, help: 'Options for system_binary targets.', isGoal: false });
    registry.register({
      scope: SYSTEM_BINARIES_SCOPE,
      name: 'system_binary_paths',
      type: 'list',
      default: [PATH_TOKEN, '/usr/bin', '/bin', '/usr/local/bin', '/opt/homebrew/bin'],
      help: `Absolute directories searched for the binary of a system_binary target, after its own \`extra_search_paths\`. \`${PATH_TOKEN}\` stands for the PATH of the trews client.`,
    });
  },
};

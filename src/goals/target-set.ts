import { failure, raise, type Failure, type RunContext } from '../core/index.js';
import type { Run } from '../engine/index.js';
import { GLOBAL, type OptionRegistry, type Options } from '../options/index.js';
import {
  changedFiles,
  changedTargets,
  DirTargetsKey,
  formatAddress,
  parseSpec,
  SpecAddressesKey,
  SpecsKey,
  tagsOf,
  type Address,
  type ChangedDependents,
  type Spec,
  type Target,
  type Project,
} from '../targets/index.js';

export function registerChangedOptions(registry: OptionRegistry): void {
  registry.registerScope({ name: 'changed', help: 'Select targets by the files that changed in git.', isGoal: false });
  registry.register({
    scope: 'changed',
    name: 'since',
    type: 'string',
    default: null,
    help: 'Select the targets that own files changed since this git ref (commit, branch or tag), including uncommitted and untracked files.',
  });
  registry.register({
    scope: 'changed',
    name: 'dependents',
    type: 'enum',
    choices: ['none', 'direct', 'transitive'],
    default: 'none',
    help: 'With --changed-since, also select the targets that depend on the changed ones: directly, or at any distance.',
  });
}

/**
 * Whether the selection depends on nothing but the kept graph's inputs: not
 * `--changed-since`, which asks git outside the engine on every run (a goal's
 * `replayable`).
 */
export function selectionReplayable(options: Options): boolean {
  return options.maybeString('changed', 'since') === null;
}

/** `--tag`'s entries, each list item split at commas, blanks dropped. */
function tagEntries(options: Options): string[] {
  return options.list(GLOBAL, 'tag').flatMap((e) => e.split(',')).map((e) => e.trim()).filter((e) => e !== '');
}

/** `--tag=a,-b`: keep targets tagged a (if any positive tag is given), drop those tagged b. */
function tagFilter(options: Options): (t: Target) => boolean {
  const entries = tagEntries(options);
  const include = entries.filter((e) => !e.startsWith('-')).map((e) => (e.startsWith('+') ? e.slice(1) : e));
  const exclude = entries.filter((e) => e.startsWith('-')).map((e) => e.slice(1));
  if (include.length === 0 && exclude.length === 0) return () => true;
  return (t) => {
    const tags = tagsOf(t);
    if (exclude.some((x) => tags.includes(x))) return false;
    return include.length === 0 || include.some((x) => tags.includes(x));
  };
}

function usage(message: string, hints: string[]): Failure {
  return failure('input', 'usage', message, { exitCode: 2, hints });
}

/** The targets at these addresses, looked up through their directories' targets. */
export async function targetsAt(run: Run, project: Project, addrs: readonly Address[]): Promise<Target[]> {
  const dirs = [...new Set(addrs.map((a) => a.dir))];
  const byDir = await run.getAll(dirs.map((d) => new DirTargetsKey(project, d)));
  const index = new Map<string, Target>();
  for (const dt of byDir) for (const t of dt.targets) index.set(t.address, t);
  return addrs.map((a) => {
    const t = index.get(formatAddress(a));
    if (!t) raise(failure('internal', 'unknown-target', `no target at ${formatAddress(a)}`));
    return t;
  });
}

/**
 * The targets a command line selects: its specs, or the files changed since a
 * git ref, then filtered by `--tag`. Sorted by address.
 */
export async function resolveTargets(
  ctx: RunContext,
  run: Run,
  project: Project,
  options: Options,
  cwdRel: string,
  goal: string,
  /** What a goal that has a natural default (`graph`: `::`) selects when given no specs. */
  defaultSpecs: readonly string[] = [],
): Promise<Target[]> {
  const since = options.maybeString('changed', 'since');
  let targets: readonly Target[];
  if (since !== null) {
    if (options.commandLine.specs.length > 0) {
      raise(usage(`\`--changed-since\` selects targets itself; it cannot be combined with specs (${options.commandLine.specs.join(' ')})`, ['drop the specs, or drop --changed-since']));
    }
    const files = await changedFiles({ root: project.ws.root, since, env: ctx.env, signal: ctx.signal });
    if (!files.ok) raise(files.failure);
    targets = await targetsAt(run, project, await changedTargets(run, project, files.value, options.enum<ChangedDependents>('changed', 'dependents')));
  } else {
    targets = await run.get(new SpecsKey(project, commandLineSpecs(options, cwdRel, goal, defaultSpecs)));
  }
  return targets.filter(tagFilter(options));
}

/**
 * The addresses of the targets resolveTargets selects, in its order. With
 * specs alone (no `--changed-since`, no `--tag`) they come from a node of
 * their own (SpecAddressesKey), which is all `list` needs: a run without a
 * daemon then reads a list of strings from the kept graph instead of every
 * target.
 */
export async function resolveAddresses(ctx: RunContext, run: Run, project: Project, options: Options, cwdRel: string, goal: string): Promise<readonly string[]> {
  if (options.maybeString('changed', 'since') !== null || tagEntries(options).length > 0) return (await resolveTargets(ctx, run, project, options, cwdRel, goal)).map((t) => t.address);
  return run.get(new SpecAddressesKey(project, commandLineSpecs(options, cwdRel, goal, [])));
}

/** The command line's specs, parsed; a usage error when there are none or only exclusions. */
function commandLineSpecs(options: Options, cwdRel: string, goal: string, defaultSpecs: readonly string[]): Spec[] {
  const raw = options.commandLine.specs.length > 0 ? options.commandLine.specs : defaultSpecs;
  if (raw.length === 0) {
    raise(usage(`\`${goal}\` needs specs to say which targets to work on`, [`for example \`trews ${goal} ::\` for every target, or \`trews ${goal} src/app:\``]));
  }
  const specs: Spec[] = [];
  for (const r of raw) {
    const s = parseSpec(r, cwdRel);
    if ('tag' in s) raise(s);
    specs.push(s);
  }
  if (specs.every((s) => s.exclude)) {
    raise(usage('every spec is an exclusion (`-spec`), so nothing is selected', ['add a spec to select targets, e.g. `::`']));
  }
  return specs;
}

import { basenameRel, closest, dirnameRel, failure, raise, type Failure, type Location } from '../../core/index.js';
import { dotGlobs } from './glob-memo.js';
import type { ComputeContext } from '../../engine/index.js';
import { GlobKey, type LinkProblem } from '../../fs/index.js';
import { checkTargetName, type BuildDeclaration, type FieldValue, type SyntheticTarget, type SyntheticTargetsProvider, type Project } from '../../targets/index.js';
import { PackageJsonKey, type PackageManifest, type PackageScript } from './package-json.js';
import { JsTasksKey, resolveTask, type ResolvedTask, type TaskConfig, TASK_FIELDS } from './pipeline.js';
import { fileTestRunner } from './file-test-runner.js';
import { JAVASCRIPT_TEST, JsSourcesConfigKey, sourceFileTargets, type JsSourcesConfig } from './source-targets.js';
import { NODE_SCRIPT, PACKAGE_JSON } from './target-types.js';
import { JsPackageAtKey, JsPackageDirsUnderKey } from './workspace.js';
import { FilesWithoutModulesKey, NODE_MODULES } from './workspace-dirs.js';

/** Fields read from package.json, which a BUILD file cannot override. */
const INFERRED: Readonly<Record<string, readonly string[]>> = {
  [PACKAGE_JSON]: ['package', 'version'],
  [NODE_SCRIPT]: ['script', 'command', 'package'],
};

const INVALID_NAME_CHARS = /[^A-Za-z0-9_.+\-@=]/g;

/**
 * The address name of a script's target: the script's name, with each
 * character a target name cannot hold replaced by `.` (`build:types` →
 * `build.types`), and `.script` appended when it would be the package
 * target's own name.
 */
export function scriptTargetName(script: string, packageTarget: string): string {
  const name = script.replace(INVALID_NAME_CHARS, '.');
  return name === packageTarget ? `${name}.script` : name;
}

function where(l: Location): string {
  return l.line === undefined ? l.file : `${l.file}:${l.line}:${l.col ?? 1}`;
}

/**
 * The targets of the JavaScript workspace, inferred from package.json files
 * (Nx's project inference, Pants' package_json generator without the BUILD
 * file): per package a `package_json` target named after its directory,
 * a `node_script` target per script, and a target per source file
 * (source-targets.ts). A `package_json(...)` or
 * `node_script(name=...)` in the package's BUILD file configures them.
 */
export const packageJsonTargets: SyntheticTargetsProvider = {
  name: 'javascript',

  async dirsUnder(ctx, project, dir) {
    return ctx.get(new JsPackageDirsUnderKey(project.ws, dir));
  },

  async targetsIn(ctx, project, dir, declared) {
    const mine = declared.filter((d) => d.type === PACKAGE_JSON || d.type === NODE_SCRIPT);
    const pkg = await ctx.get(new JsPackageAtKey(project.ws, dir));
    const manifest = pkg === null ? null : await ctx.get(new PackageJsonKey(project.ws, dir));
    if (manifest === null) {
      const d = mine[0];
      if (d !== undefined) {
        raise(
          failure('input', 'not-a-workspace-package', `\`${d.type}\` \`${d.name}\` configures a package of the JavaScript workspace, and ${dir || 'the build root'} is not one`, {
            location: d.location,
            hints: [
              'add the directory to the workspace globs (`workspaces` in the root package.json, or `packages` in pnpm-workspace.yaml), or remove the target; `trews list ::` shows the inferred targets',
            ],
          }),
        );
      }
      return [];
    }
    return inferTargets(ctx, project, dir, manifest, mine);
  },
};

async function inferTargets(ctx: ComputeContext, project: Project, dir: string, manifest: PackageManifest, mine: readonly BuildDeclaration[]): Promise<SyntheticTarget[]> {
  const pkgDecls = mine.filter((d) => d.type === PACKAGE_JSON);
  if (pkgDecls.length > 1) {
    raise(
      failure('input', 'duplicate-package-json', `a package has one \`${PACKAGE_JSON}\` target, and ${dir || 'the build root'} declares two`, {
        location: pkgDecls[1]!.location,
        notes: [`the first is at ${where(pkgDecls[0]!.location)}`],
      }),
    );
  }
  const pkgDecl = pkgDecls[0];
  for (const d of mine) checkNotInferred(d, manifest);
  const pkgName = pkgDecl?.name ?? (dir === '' ? project.rootName : basenameRel(dir));
  const badName = checkTargetName(pkgName);
  if (badName !== undefined) {
    raise(
      failure('input', 'bad-target-name', `the package in ${dir || 'the build root'} cannot have a target named after its directory: ${badName}`, {
        location: manifest.at,
        hints: [`name its target in ${dir === '' ? 'the root' : dir}/BUILD: \`${PACKAGE_JSON}(name="…")\``],
      }),
    );
  }
  const scripts = scriptTargets(manifest, pkgName);
  const scriptDecls = checkScriptDeclarations(mine, scripts, manifest);
  const buildScripts = scriptsField(pkgDecl, manifest);

  const tasks = await ctx.get(new JsTasksKey());
  const resolved = new Map<string, ResolvedTask>();
  for (const [name, s] of scripts) {
    const layers: { config: TaskConfig; origin: string }[] = [];
    const fromPkg = buildScripts[s.name];
    if (fromPkg !== undefined) layers.push({ config: fromPkg, origin: where(pkgDecl!.fieldLocations.scripts ?? pkgDecl!.location) });
    const decl = scriptDecls.get(name);
    if (decl !== undefined) layers.push({ config: writtenTask(decl), origin: where(decl.location) });
    resolved.set(name, resolveTask(s.name, tasks, layers));
  }

  const prefix = dir === '' ? 0 : dir.length + 1;
  const rel = (f: string): string => f.slice(prefix);
  const nested = new Set((await ctx.get(new JsPackageDirsUnderKey(project.ws, dir))).filter((d) => d !== dir));
  const inNested = (f: string): boolean => {
    for (let d = dirnameRel(f); d.length > dir.length; d = dirnameRel(d)) if (nested.has(d)) return true;
    return false;
  };
  const tree = await ctx.get(new FilesWithoutModulesKey(project.ws, dir));
  const escape = tree.escapes.find((e) => !inNested(e.path));
  if (escape !== undefined) raise(escapingLink(escape.path, escape.problem, `a file of the package in ${dir || 'the build root'}`, manifest.at));
  const files = tree.files.filter((f) => !inNested(f));
  const outputs = [...new Set([...resolved.values()].flatMap((t) => t.outputs.filter((o) => !o.startsWith('!'))))];
  const isOutput = outputs.length === 0 ? () => false : dotGlobs(outputs);
  const packageSources = files.filter((f) => !isOutput(rel(f)));
  const under = (p: string): string => (dir === '' ? p : `${dir}/${p}`);
  const packagePatterns = [
    under('**'),
    ...outputs.map((o) => `!${under(o)}`),
    `!${under(`**/${NODE_MODULES}/**`)}`,
    ...[...nested].map((n) => `!${n}/**`),
  ];

  const location = { file: manifest.path, line: manifest.at.line ?? 1, col: manifest.at.col ?? 1 };
  const out: SyntheticTarget[] = [
    {
      type: PACKAGE_JSON,
      name: pkgName,
      fields: { package: manifest.name, version: manifest.version },
      location,
      sources: packageSources,
      sourcePatterns: packagePatterns,
    },
  ];
  const config = await ctx.get(new JsSourcesConfigKey());
  const tag = pkgDecl?.fields['test_batch_compatibility_tag'];
  const testPlan = { ...fileTestPlan(config, manifest), batchTag: typeof tag === 'string' ? tag : null };
  const fileTargets = sourceFileTargets(dir, pkgName, packageSources, config.testPatterns, location, testPlan);
  // No test file: the package's `test` script stays its test (it may run something else entirely).
  const perFile = testPlan.perFile && fileTargets.some((f) => f.type === JAVASCRIPT_TEST);
  out.push(...fileTargets);
  for (const [name, s] of scripts) {
    const task = resolved.get(name)!;
    const address = dir === '' ? `//:${name}` : `${dir}:${name}`;
    const { sources, patterns } = await scriptInputs(ctx, project, dir, manifest, s, task, packageSources, packagePatterns, address);
    out.push({
      type: NODE_SCRIPT,
      name,
      fields: {
        // Tags and description of a declared package_json reach its scripts, as Pants copies a generator's common fields.
        ...copiedFields(pkgDecl),
        script: s.name,
        command: s.command,
        package: manifest.name,
        depends_on: [...task.depends_on],
        outputs: [...task.outputs],
        inputs: task.inputs === null ? null : [...task.inputs],
        extra_inputs: [...task.extra_inputs],
        env: [...task.env],
        cache: task.cache && !task.persistent,
        persistent: task.persistent,
        timeout: task.timeout,
        // A package_json's isolation is its scripts' default: a task that sets none takes it.
        sandbox_isolation: task.sandbox_isolation ?? packageField(pkgDecl, 'sandbox_isolation') ?? null,
        network: task.origins['network'] === 'the default' ? packageField(pkgDecl, 'network') === true : task.network,
        // Per-file tests replace the `test` script: it would run the same files again.
        skip_tests: s.name !== 'test' || perFile,
      },
      location: { file: manifest.path, line: s.at.line ?? 1, col: s.at.col ?? 1 },
      sources,
      sourcePatterns: patterns,
    });
  }
  return out;
}

/**
 * Whether a package's test files run one by one (`javascript_test`
 * targets) or by its `test` script: per file with `test_granularity =
 * "file"`, or `"auto"` (the default) when the runner is known — configured,
 * or read from the `test` script. A script trews cannot read (`make
 * check`, a chain of commands) keeps running as it is.
 */
function fileTestPlan(config: JsSourcesConfig, manifest: PackageManifest): { perFile: boolean; runner: string | null } {
  if (config.testGranularity === 'package') return { perFile: false, runner: null };
  const runner = fileTestRunner(manifest, config.testRunner);
  return { perFile: config.testGranularity === 'file' || runner !== null, runner: runner?.name ?? null };
}

/** A field a declared package_json writes, if it does. */
function packageField(d: BuildDeclaration | undefined, name: string): FieldValue | undefined {
  return d?.written.includes(name) ? d.fields[name] : undefined;
}

function copiedFields(d: BuildDeclaration | undefined): Record<string, FieldValue> {
  const out: Record<string, FieldValue> = {};
  for (const f of ['tags', 'description']) if (d?.written.includes(f)) out[f] = d.fields[f]!;
  return out;
}

/** A symlink a package's files (or inputs) go through out of the build root: the sandbox could not hold it. */
function escapingLink(path: string, problem: LinkProblem, what: string, at: Location): Failure {
  const how =
    problem.type === 'outside'
      ? `\`${problem.link}\` is a symlink to ${JSON.stringify(problem.target)}, outside the build root`
      : `\`${problem.link}\` is a symlink that leads round in a loop`;
  return failure('input', problem.type === 'outside' ? 'symlink-outside-root' : 'symlink-loop', `\`${path}\` (${what}) cannot be read: ${how}`, {
    location: at,
    hints: ['trews reads nothing outside the build root: copy the file into the repository, point the link inside it, or ignore it (.gitignore, or `[GLOBAL] ignore`)'],
  });
}

/** Scripts by target name; two scripts that would share one is an error at the second. */
function scriptTargets(manifest: PackageManifest, pkgName: string): Map<string, PackageScript> {
  const out = new Map<string, PackageScript>();
  for (const s of manifest.scripts) {
    const name = scriptTargetName(s.name, pkgName);
    const bad = checkTargetName(name);
    if (bad !== undefined) raise(failure('input', 'bad-script-name', `script \`${s.name}\` cannot be a target: ${bad}`, { location: s.at, hints: ['give the script a name'] }));
    const prev = out.get(name);
    if (prev !== undefined) {
      raise(
        failure('input', 'duplicate-target', `scripts \`${prev.name}\` and \`${s.name}\` would both be the target \`${name}\``, {
          location: s.at,
          notes: [`\`${prev.name}\` is at ${where(prev.at)}; characters a target name cannot hold become \`.\``],
          hints: ['rename one of the scripts'],
        }),
      );
    }
    out.set(name, s);
  }
  return out;
}

/** A BUILD target may configure what is inferred, not restate package.json. */
function checkNotInferred(d: BuildDeclaration, manifest: PackageManifest): void {
  for (const f of INFERRED[d.type] ?? []) {
    if (!d.written.includes(f)) continue;
    raise(
      failure('input', 'inferred-field', `\`${f}\` of \`${d.type}\` is read from ${manifest.path}; a BUILD file cannot set it`, {
        location: d.fieldLocations[f] ?? d.location,
        hints: [`remove \`${f}=…\`${d.type === NODE_SCRIPT && f === 'command' ? ', and change the script in package.json' : ''}`],
      }),
    );
  }
}

/** `node_script(name=…)` declarations by target name; each must name a script. */
function checkScriptDeclarations(mine: readonly BuildDeclaration[], scripts: ReadonlyMap<string, PackageScript>, manifest: PackageManifest): Map<string, BuildDeclaration> {
  const out = new Map<string, BuildDeclaration>();
  for (const d of mine) {
    if (d.type !== NODE_SCRIPT) continue;
    if (!scripts.has(d.name)) {
      const guess = closest(d.name, scripts.keys());
      raise(
        failure('input', 'unknown-script', `\`${NODE_SCRIPT}\` \`${d.name}\` names no script of ${manifest.path}`, {
          location: d.fieldLocations.name ?? d.location,
          hints: [
            guess !== undefined
              ? `did you mean \`${guess}\`?`
              : scripts.size === 0
                ? `${manifest.path} has no scripts`
                : `its scripts are addressed ${[...scripts.keys()].map((k) => `\`${k}\``).join(', ')}`,
          ],
        }),
      );
    }
    out.set(d.name, d);
  }
  return out;
}

/** `package_json(scripts={...})`, keyed by script name; every key must be a script. */
function scriptsField(decl: BuildDeclaration | undefined, manifest: PackageManifest): Readonly<Record<string, TaskConfig>> {
  const v = decl?.fields.scripts;
  if (decl === undefined || v === null || v === undefined) return {};
  const scripts = v as Record<string, TaskConfig>;
  const names = manifest.scripts.map((s) => s.name);
  for (const key of Object.keys(scripts)) {
    if (names.includes(key)) continue;
    const guess = closest(key, names);
    raise(
      failure('input', 'unknown-script', `\`scripts\` of \`${PACKAGE_JSON}\` configures \`${key}\`, which is not a script of ${manifest.path}`, {
        location: decl.fieldLocations.scripts ?? decl.location,
        hints: [guess !== undefined ? `did you mean \`${guess}\`?` : names.length === 0 ? `${manifest.path} has no scripts` : `its scripts: ${names.join(', ')}`],
      }),
    );
  }
  return scripts;
}

/** The task fields a `node_script(...)` declaration writes. */
function writtenTask(d: BuildDeclaration): TaskConfig {
  const out: Record<string, unknown> = {};
  for (const f of TASK_FIELDS) if (d.written.includes(f)) out[f] = d.fields[f];
  return out as TaskConfig;
}

/**
 * The files a script reads: `inputs` over the package's files (all of
 * them when unset), `extra_inputs` (`//` ones from the build root), and
 * package.json always.
 */
async function scriptInputs(
  ctx: ComputeContext,
  project: Project,
  dir: string,
  manifest: PackageManifest,
  script: PackageScript,
  task: ResolvedTask,
  packageSources: readonly string[],
  packagePatterns: readonly string[],
  address: string,
): Promise<{ sources: string[]; patterns: string[] }> {
  const prefix = dir === '' ? 0 : dir.length + 1;
  const under = (p: string): string => (dir === '' ? p : `${dir}/${p}`);
  const local: string[] = [];
  const fromRoot: string[] = [];
  for (const e of task.extra_inputs) {
    const neg = e.startsWith('!');
    const body = neg ? e.slice(1) : e;
    if (body.startsWith('//')) fromRoot.push(`${neg ? '!' : ''}${body.slice(2)}`);
    else local.push(e);
  }
  const pick = (globs: readonly string[]): string[] => {
    const inc = globs.filter((g) => !g.startsWith('!'));
    const exc = globs.filter((g) => g.startsWith('!')).map((g) => g.slice(1));
    if (inc.length === 0) return [];
    const m = dotGlobs(inc);
    const x = exc.length === 0 ? () => false : dotGlobs(exc);
    return packageSources.filter((f) => m(f.slice(prefix)) && !x(f.slice(prefix)));
  };
  const found = new Set<string>(task.inputs === null ? packageSources : pick(task.inputs));
  for (const f of pick(local)) found.add(f);
  if (fromRoot.some((g) => !g.startsWith('!'))) {
    const glob = await ctx.get(new GlobKey(project.ws, '', fromRoot));
    const missing = glob.missingLiterals[0];
    if (missing !== undefined) {
      raise(
        failure('input', 'missing-input', `\`extra_inputs\` of ${address} names \`//${missing}\`, which does not exist`, {
          location: script.at,
          notes: [`\`extra_inputs\` is set by ${task.origins.extra_inputs}`],
          hints: [`create ${missing}, or remove it from \`extra_inputs\``],
        }),
      );
    }
    const out = glob.escapes[0];
    if (out !== undefined) raise(escapingLink(out.path, out.problem, `in \`extra_inputs\` of ${address}`, script.at));
    for (const f of glob.files) found.add(f);
  }
  found.add(manifest.path);
  const patterns = [
    ...(task.inputs === null ? packagePatterns : task.inputs.map((i) => (i.startsWith('!') ? `!${under(i.slice(1))}` : under(i)))),
    ...local.map((i) => (i.startsWith('!') ? `!${under(i.slice(1))}` : under(i))),
    ...fromRoot,
    manifest.path,
  ];
  return { sources: [...found].sort(), patterns };
}

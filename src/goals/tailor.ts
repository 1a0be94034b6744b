import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dirnameRel, failure, joinRel, raise } from '../core/index.js';
import { BuildFilesInDirKey, buildFileMatcher } from '../fs/index.js';
import { BuildFileKey, DirTargetsKey } from '../targets/index.js';
import type { TailorSuggestion } from '../backends/index.js';
import type { Goal, GoalContext } from './goal.js';

function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve) => stream.write(text, () => resolve()));
}

/** What one BUILD file gets: created, or appended to. */
interface Edit {
  readonly path: string;
  readonly exists: boolean;
  readonly calls: string[];
}

/** A suggestion left out: a BUILD target of another type has its name (and replaces the inferred one). */
interface Clash {
  readonly path: string;
  readonly text: string;
  readonly name: string;
  readonly type: string;
}

/**
 * `trews tailor` (Pants' `tailor`): writes into BUILD files the targets the
 * backends infer (a JavaScript package's `package_json()`), for teams that
 * want them in the repository. Only what is missing: a directory whose BUILD
 * file already declares a target of the type gets nothing. A directory with
 * a BUILD file gets the call appended, never a rewrite of what is there;
 * one without gets `[tailor] build_file_name`. What it writes changes no
 * address and no dependency: each call declares an inferred target of its
 * own type, which extends it. `--check` writes nothing and exits 1 listing
 * what it would write, for CI.
 */
export const tailorGoal: Goal = {
  name: 'tailor',
  help: 'Write BUILD files for the targets trews infers (a JavaScript package: `package_json()`), only where they are missing, appending to existing BUILD files. With --check, write nothing and exit 1 listing what is missing.',
  needsBuildRoot: true,
  registerOptions(registry) {
    registry.registerScope({ name: 'tailor', help: this.help, isGoal: true });
    registry.register({ scope: 'tailor', name: 'check', type: 'bool', default: false, help: 'Write nothing; list what would be written and exit 1 if anything would (for CI).' });
    registry.register({
      scope: 'tailor',
      name: 'build_file_name',
      type: 'string',
      default: 'BUILD',
      help: 'The name of the BUILD files tailor creates in directories that have none; it must match `build_patterns`. A directory with a BUILD file gets the targets appended to it.',
    });
  },
  async execute(g) {
    const name = g.options.string('tailor', 'build_file_name');
    const patterns = g.project.ws.rules.buildPatterns;
    if (name === '' || name.includes('/') || !buildFileMatcher(patterns)(name)) {
      raise(
        failure('input', 'tailor-build-file-name', `\`[tailor] build_file_name\` is ${JSON.stringify(name)}, which \`build_patterns\` (${patterns.join(', ')}) does not make a BUILD file: trews would not read what tailor wrote`, {
          exitCode: 2,
          hints: ['name a file `build_patterns` matches (`BUILD`), or add its name to `build_patterns`'],
        }),
      );
    }
    const { edits, clashes } = await plan(g, name);
    if (clashes.length > 0) {
      await write(
        g.ctx.stderr,
        clashes
          .map((c) => `note: ${c.path} declares \`${c.name}\` as a \`${c.type}\` target, which replaces the inferred one; tailor does not write \`${c.text}\` beside it\n`)
          .join(''),
      );
    }
    const lines = edits.flatMap((e) => e.calls.map((c) => `${e.path}: ${c}`));
    if (g.options.bool('tailor', 'check')) {
      if (edits.length === 0) return 0;
      await write(g.ctx.stderr, `${lines.map((l) => `would write ${l}`).join('\n')}\n${lines.length} target${lines.length === 1 ? '' : 's'} missing from BUILD files: run \`trews tailor\` to write ${lines.length === 1 ? 'it' : 'them'}\n`);
      return 1;
    }
    for (const e of edits) await apply(g.root, e);
    await g.emit(edits.flatMap((e) => e.calls.map((c) => `${e.exists ? 'appended to' : 'created'} ${e.path}: ${c}`)));
    return 0;
  },
};

/** The BUILD file edits the backends' suggestions need, by path. */
async function plan(g: GoalContext, buildFileName: string): Promise<{ edits: Edit[]; clashes: Clash[] }> {
  const suggestions: TailorSuggestion[] = [];
  for (const p of g.renv.rules.tailorProviders()) suggestions.push(...(await p.suggest(g.run, g.project)));
  const byDir = new Map<string, TailorSuggestion[]>();
  for (const s of suggestions) {
    const list = byDir.get(s.dir);
    if (list === undefined) byDir.set(s.dir, [s]);
    else list.push(s);
  }
  const edits: Edit[] = [];
  const clashes: Clash[] = [];
  for (const dir of [...byDir.keys()].sort()) {
    const files = [...(await g.run.get(new BuildFilesInDirKey(g.project.ws, dir)))].sort();
    const declared = new Set<string>();
    for (const syntax of await g.run.getAll(files.map((f) => new BuildFileKey(g.project, f)))) for (const c of syntax.calls) declared.add(c.callee);
    const missing = byDir.get(dir)!.filter((s) => !declared.has(s.type));
    const inBuild = files.length === 0 ? [] : (await g.run.get(new DirTargetsKey(g.project, dir))).targets.filter((t) => files.includes(t.buildFile));
    const calls: string[] = [];
    for (const s of missing) {
      const other = inBuild.find((t) => t.addr.file === undefined && t.addr.name === s.name && t.type !== s.type);
      if (other !== undefined) clashes.push({ path: other.buildFile, text: s.text, name: s.name, type: other.type });
      else calls.push(s.text);
    }
    if (calls.length === 0) continue;
    const path = files[0] ?? joinRel(dir, buildFileName);
    if (dirnameRel(path) !== dir) raise(failure('internal', 'tailor-path', `BUILD file ${path} is not in ${dir}`));
    edits.push({ path, exists: files.length > 0, calls: [...new Set(calls)] });
  }
  return { edits, clashes };
}

/** Appends (or creates), through a temporary file and a rename, so a BUILD file is never half-written. */
async function apply(root: string, e: Edit): Promise<void> {
  const abs = join(root, e.path);
  let before = '';
  if (e.exists) {
    before = await readFile(abs, 'utf8');
    if (before !== '' && !before.endsWith('\n')) before += '\n';
    if (before !== '') before += '\n';
  }
  const tmp = `${abs}.tailor-${Date.now()}-${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(tmp, `${before}${e.calls.join('\n')}\n`);
    await rename(tmp, abs);
  } catch (err) {
    raise(failure('environment', 'tailor-write', `cannot write ${e.path}: ${(err as Error).message}`, { hints: ['check that the directory is writable'] }));
  }
}

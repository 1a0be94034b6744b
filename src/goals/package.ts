import { startExecution } from './start-execution.js';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { failure, FailureError, isAbortError, isFailureError, type Failure } from '../core/index.js';
import { alreadyHolds, PACKAGE, type BuiltPackage } from '../backends/index.js';
import { listTree } from '../store/index.js';
import type { Target } from '../targets/index.js';
import { countsLine, naturalCompare, renderFailure } from '../ui/index.js';
import type { Goal, GoalContext } from './goal.js';
import { selectionReplayable } from './target-set.js';
import { provenanceText } from './result-lines.js';

/**
 * Copies a package's files into the dist directory, replacing older ones and
 * leaving alone those that already hold the same bytes (editors, watchers
 * and a daemon see no churn). Returns their paths.
 */
async function writeOut(g: GoalContext, pkg: BuiltPackage, distdir: string, signal: AbortSignal): Promise<string[]> {
  const { store } = g.services();
  const written: string[] = [];
  for (const entry of await listTree(store, pkg.tree, signal)) {
    if (entry.kind !== 'file') continue;
    const dest = join(distdir, entry.path);
    const rel = relative(g.root, dest);
    const inRoot = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
    if (g.replay !== undefined) {
      // What a replay of this run must find as it is: the file, and each directory down to it.
      if (inRoot) for (let p = rel; p !== '.'; p = dirname(p)) g.replay.observe(p);
      else g.replay.refuse(`${dest} is outside the build root`);
    }
    if (await alreadyHolds(store, dest, inRoot ? rel : undefined, entry, g.project.ws.digestIndex).catch(() => false)) {
      written.push(dest);
      continue;
    }
    g.replay?.refuse('a package file was written');
    try {
      await mkdir(dirname(dest), { recursive: true });
      await rm(dest, { force: true, recursive: true });
      const how = await store.materializeFile(entry.digest, dest, { executable: entry.isExecutable, mode: 'copy' }, signal);
      if (how === undefined) throw new Error('its content is no longer in the local store; run the command again');
    } catch (e) {
      if (isAbortError(e) || isFailureError(e)) throw e;
      throw new FailureError(failure('environment', 'dist-write', `cannot write ${dest}: ${(e as Error).message}`));
    }
    written.push(dest);
  }
  return written;
}

export const packageGoal: Goal = {
  name: 'package',
  help: 'Build the packages the specs select (archives, npm tarballs) and write them to the dist directory (`dist/`, or --distdir), a line per package with the files written, and one summary line.',
  needsBuildRoot: true,
  replayable: selectionReplayable,
  registerOptions(registry) {
    registry.registerScope({ name: 'package', help: this.help, isGoal: true });
    registry.register({
      scope: 'package',
      name: 'distdir',
      type: 'string',
      default: 'dist',
      help: 'Where packages are written, relative to the build root (Pants: `--pants-distdir`).',
    });
  },
  async execute(g) {
    const selected = await g.targets();
    const execution = startExecution(g);
    const { rc, colors } = execution;
    const packages = selected.filter((t) => g.renv.rules.provides(t.type, PACKAGE));
    if (packages.length === 0) {
      execution.print(`nothing to package: none of the ${selected.length} target${selected.length === 1 ? '' : 's'} the specs select is packageable`);
      await execution.finish();
      return 0;
    }
    const distdirOption = g.options.string('package', 'distdir');
    const distdir = isAbsolute(distdirOption) ? distdirOption : resolve(g.root, distdirOption);
    const failures: Array<{ target: Target; failure: Failure }> = [];
    const wrote: string[] = [];
    let built = 0;
    let empty = 0;
    let memoized = 0;
    execution.progress(0, packages.length, 'packages');
    const settled = await Promise.allSettled(
      packages.map(async (target) => {
        try {
          const pkg = await rc.serve(PACKAGE, target, undefined);
          // A package with no files (a private JavaScript package) is nothing to count.
          if (pkg.files.length === 0) {
            empty++;
            return;
          }
          // Where the package manager's pack came from; an archive trews makes itself has no process.
          const provenance = pkg.result !== undefined ? execution.provenance(pkg.result, `package ${target.address}`) : undefined;
          const paths = await writeOut(g, pkg, distdir, rc.signal);
          wrote.push(...paths);
          built++;
          if (provenance === 'memoized') memoized++;
          const from = provenance !== undefined ? ` ${provenanceText(provenance, colors)}` : '';
          execution.print(`${colors.green('✓')} ${target.address}${from}: wrote ${paths.map((p) => relative(g.root, p)).join(', ')}`);
        } catch (e) {
          if (!isFailureError(e) || isAbortError(e) || rc.signal.aborted) throw e;
          failures.push({ target, failure: e.failure });
        } finally {
          execution.progress(built + empty + failures.length, packages.length, 'packages');
        }
      }),
    );
    const thrown = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (thrown !== undefined) {
      await execution.finish();
      throw thrown.reason;
    }
    if (built === 0 && failures.length === 0) {
      execution.print(`nothing to package: the ${packages.length} packageable target${packages.length === 1 ? '' : 's'} the specs select package${packages.length === 1 ? 's' : ''} no files (a private JavaScript package packs nothing)`);
      await execution.finish();
      return 0;
    }
    if (failures.length === 1 && wrote.length === 0) {
      await execution.finish();
      throw new FailureError(failures[0]!.failure);
    }
    for (const f of failures.sort((a, b) => naturalCompare(a.target.address, b.target.address))) {
      execution.print(`could not package ${f.target.address}:\n${renderFailure(f.failure, { colors: execution.colors }).trimEnd()}`);
    }
    await execution.finish(
      countsLine(
        'Packages',
        [
          { count: built, label: 'built', tone: 'good' },
          { count: failures.length, label: 'failed', tone: 'bad' },
        ],
        built + failures.length,
        memoized,
        execution.colors,
      ),
    );
    return failures.length > 0 ? 1 : 0;
  },
};

import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';
import type { Logger, RunContext } from '../core/index.js';
import type { IdleProof } from '../daemon/index.js';
import { dirEntriesId, type DirEntries } from '../fs/index.js';
import { bundleCodeFiles } from './code-identity.js';
import type { ReplayProof } from './graph-file.js';
import { insideAnyOf, makeReplaySetup, type LiveReplay, type LiveRun, type ReplaySetup } from './replay-record.js';

/**
 * Recording a run the daemon served, for the native client to replay the
 * next identical command line without reaching the daemon (see
 * src/native-client/README.md "Replaying a proven no-op").
 *
 * A run without a daemon is recorded when the kept graph alone gave its
 * answer: every path it read is proven by the stamp the graph was kept
 * with. A daemon's graph is kept fresh by its watcher instead, so its proof
 * comes after the run: once no run is in progress, the quiet check stamps
 * every path the graphs read and syncs the watcher (QuietCheck.nextProof).
 * Then every change made before those stamps has been queued on the engine
 * (queued invalidations are applied only as the next run starts), so the
 * run's answer stands for those stamps when
 * - no other run overlapped it or began since (the graph is as it left it);
 * - nothing is queued but changes inside the output directories it wrote
 *   back (a restore's own writes, the `rm -rf` before it): whatever it read
 *   is as it read it;
 * - no path it read changed within the racy margin of the stamps, but the
 *   directories holding those output directories, which the record proves
 *   by their listing;
 * - each transient record (a tool found on PATH) names the programs whose
 *   stamps prove it.
 * What else the record holds and checks (the command line, the environment,
 * trews' code, outputs and the blobs to restore them from) is as for a run
 * without a daemon (replay-record.ts).
 */

/** A proof later than this after the run proves nothing worth keeping: another command was surely typed. */
const PROOF_WAIT_MS = 10_000;

/** A daemon run's ReplaySetup, and what records it once its answer is out; undefined for a run that is never replayed (a terminal's). */
export function daemonReplaySetup(ctx: RunContext): { setup: ReplaySetup; finish: (nextProof: () => Promise<IdleProof | undefined>, logger: Logger) => void } | undefined {
  if (ctx.isTTY.stdout || ctx.isTTY.stderr) return undefined;
  // bin/trewsd.cjs, which loaded the bundle from ../dist; the client's bin/trews.cjs beside it.
  const codeFiles = bundleCodeFiles(['trewsd.cjs']);
  if (codeFiles === undefined) return undefined;
  // The replay stands in for the Node client that `node` on the client's PATH would run.
  const execPath = nodeOnPath(ctx.env['PATH'], ctx.cwd);
  if (execPath === undefined) return undefined;
  let task: ((proof: Promise<IdleProof | undefined>) => Promise<void>) | undefined;
  const live: LiveReplay = {
    afterRun: (t) => {
      task = t;
    },
    prove: proveFromDaemon,
  };
  return {
    setup: makeReplaySetup({ codeFiles, execPath, stdout: ctx.stdout, stderr: ctx.stderr, live }),
    finish: (nextProof, logger) => {
      if (task === undefined) return;
      const proof = nextProof();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), PROOF_WAIT_MS).unref();
      });
      void task(Promise.race([proof, late]))
        .catch((e: unknown) => logger.warn(`replay: recording failed: ${e instanceof Error ? e.message : String(e)}`))
        .finally(() => clearTimeout(timer));
    },
  };
}

/** The run's answer proven from the daemon's graph and `proof` (see the head of this file), or why it cannot be. */
export async function proveFromDaemon(run: LiveRun, proof: IdleProof | undefined): Promise<ReplayProof | string> {
  if (proof === undefined) return 'no proof of the file system came after the run (another run began first, the watcher may have lost events, or the graph reads too many paths)';
  const engine = run.app.engine;
  const stats = engine.stats();
  if (run.liveAtStart !== 1 || stats.runs !== run.runsAtStart || stats.liveRuns !== 0) return 'another run overlapped it or began since';
  const pending = engine.pendingInvalidations();
  if (pending.all) return 'the watcher may have lost changes since the run began';
  const moved = [...pending.paths, ...pending.exact].find((p) => !insideAnyOf(run.bases, p));
  if (moved !== undefined) return `${moved} changed since the run began`;
  const stamps = new Map<string, string>();
  for (const p of engine.readPaths()) {
    const stamp = proof.stamps.get(p);
    const proven = stamp !== undefined && !proof.racy.has(p);
    if (proven) stamps.set(p, stamp);
    // A directory holding a written output directory is proven by its listing (replay-record.ts).
    else if (!run.listed.has(p)) return stamp === undefined ? `${p} was not stamped` : `${p} changed too recently to be proven by its stamp`;
  }
  // Everything of the graph is read before the first await: a run may start at any await, and change it.
  const listings = new Map<string, DirEntries>();
  for (const dir of run.listed) {
    const listing = engine.cleanValue(dirEntriesId(dir))?.value as DirEntries | undefined;
    if (listing?.exists === true) listings.set(dir, listing);
  }
  const transients = engine.transientValues();
  const programs: string[] = [];
  for (const { key, value } of transients) {
    const found = key.replayProof === undefined ? undefined : await key.replayProof(value);
    if (found === undefined) return `${key.describe?.() ?? key.id} cannot be proven by stamps`;
    programs.push(...found);
  }
  return { stamps, programs, listings };
}

/** The real path of the `node` a shell in `cwd` would run with this PATH: the first executable file named so (as the native client's node_on_path). */
export function nodeOnPath(path: string | undefined, cwd: string): string | undefined {
  if (path === undefined) return undefined;
  for (const dir of path.split(delimiter)) {
    const candidate = resolve(cwd, dir, 'node');
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return realpathSync(candidate);
    } catch {
      // Not there, or not runnable: the next directory.
    }
  }
  return undefined;
}

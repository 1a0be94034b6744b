import { startExecution } from './start-execution.js';
import { isAbortError, isFailureError, type Failure } from '../core/index.js';
import { BUILD, writeOutputs, type BuiltOutputs, type WrittenOutputs } from '../backends/index.js';
import type { Provenance } from '../runtime/index.js';
import type { Target } from '../targets/index.js';
import { renderFailure } from '../ui/index.js';
import type { Goal } from './goal.js';

interface Done {
  readonly address: string;
  readonly built?: BuiltOutputs;
  readonly provenance?: Provenance;
  readonly written?: WrittenOutputs;
  readonly failure?: Failure;
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

/** `✓ packages/lib:build (local cache): 2 files written, 3 unchanged`. */
function resultLine(d: Done): string {
  if (d.failure !== undefined || d.built === undefined || d.written === undefined) return `✕ ${d.address} failed`;
  const w = d.written;
  const parts = [`${plural(w.written.length, 'file')} written`, `${w.unchanged} unchanged`];
  if (w.removed.length > 0) parts.push(`${w.removed.length} stale removed`);
  return `✓ ${d.address} (${d.provenance}): ${parts.join(', ')}`;
}

/**
 * `trews build`: builds what the specs select — in dependency order, each
 * in its sandbox, from the caches when it can — and writes the declared
 * outputs into the workspace (`packages/lib/dist/…`), touching only the
 * files whose content differs and removing stale ones from the declared
 * outputs, so editors, `node packages/app/dist/main.js` and publishing
 * see them. Turborepo's and Nx's cache restore, as a goal.
 */
export const buildGoal: Goal = {
  name: 'build',
  help: "Build the targets the specs select and write their declared outputs into the workspace (a JavaScript package's `build` script and its dependencies' builds first; any script with `outputs`), restoring them from the cache when nothing changed. Only files whose content differs are written, stale files in the declared outputs are removed, nothing else is touched. Exits 1 if any build fails.",
  needsBuildRoot: true,
  registerOptions(registry) {
    registry.registerScope({ name: 'build', help: this.help, isGoal: true });
  },
  async execute(g) {
    const selected = await g.targets();
    const execution = startExecution(g);
    const rc = execution.rc;
    const candidates = selected.filter((t) => g.renv.rules.provides(t.type, BUILD));
    const done = new Map<string, Done>();
    const failures: Array<{ target: Target; failure: Failure }> = [];
    const settled = await Promise.allSettled(
      candidates.map(async (target) => {
        let built: BuiltOutputs | null;
        try {
          built = await rc.serve(BUILD, target, undefined);
        } catch (e) {
          if (!isFailureError(e) || isAbortError(e) || rc.signal.aborted) throw e;
          failures.push({ target, failure: e.failure });
          execution.print(`✕ ${target.address} failed\n${renderFailure(e.failure).trimEnd()}`);
          return;
        }
        // A package and its `build` script name one build: written once.
        if (built === null || done.has(built.address)) return;
        const entry: { address: string; built: BuiltOutputs; provenance: Provenance; written?: WrittenOutputs } = {
          address: built.address,
          built,
          provenance: execution.provenance(built.result, `build ${built.address}`),
        };
        done.set(built.address, entry);
        entry.written = await writeOutputs(g.services().store, g.root, built.tree, built.outputs, rc.signal);
      }),
    );
    const thrown = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (thrown !== undefined) {
      await execution.finish();
      throw thrown.reason;
    }
    const lines = [...done.values()].sort((a, b) => (a.address < b.address ? -1 : 1)).map(resultLine);
    if (lines.length === 0 && failures.length === 0) {
      execution.print(`nothing to build: none of the ${plural(selected.length, 'target')} the specs select builds anything`);
    } else {
      execution.print([...(failures.length > 0 ? [''] : []), ...lines, ...failures.map((f) => `✕ ${f.target.address} failed`)].join('\n'));
    }
    await execution.finish();
    return failures.length > 0 ? 1 : 0;
  },
};

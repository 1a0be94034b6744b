import { compareAddresses, DependenciesKey, formatAddress, TransitiveDependenciesKey } from '../targets/index.js';
import type { Goal } from './goal.js';
import type { InferenceWarning } from '../targets/index.js';

function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve) => stream.write(text, () => resolve()));
}
import { registerOutputFile } from './goal.js';

export const dependenciesGoal: Goal = {
  name: 'dependencies',
  help: 'List the dependencies of the targets the specs match (direct ones, or all with --transitive), sorted. What inference could not settle (an import that resolves to nothing) is printed on stderr as `warning: file:line:col: …`.',
  needsBuildRoot: true,
  registerOptions(registry) {
    registry.registerScope({ name: 'dependencies', help: this.help, isGoal: true });
    registerOutputFile(registry, 'dependencies');
    registry.register({ scope: 'dependencies', name: 'transitive', type: 'bool', default: false, help: 'List dependencies of dependencies too, all the way down.' });
    registry.register({ scope: 'dependencies', name: 'closed', type: 'bool', default: false, help: 'Include the targets the specs match in the output.' });
  },
  async execute(g) {
    const roots = (await g.targets()).map((t) => t.addr);
    // What inference left unsettled (an import that resolves to nothing), for the targets whose dependencies were read.
    const warnings = new Map<string, InferenceWarning>();
    const collect = (ws: readonly InferenceWarning[]): void => {
      for (const w of ws) warnings.set(`${w.file}:${w.line}:${w.col}: ${w.message}`, w);
    };
    const rootSet = new Set(roots.map(formatAddress));
    const closed = g.options.bool('dependencies', 'closed');
    let lines: readonly string[];
    if (g.options.bool('dependencies', 'transitive')) {
      // One memoized node: a warm daemon re-validates it without walking the graph again.
      const t = await g.run.get(new TransitiveDependenciesKey(g.project, roots));
      collect(t.warnings);
      lines = t.formatted;
      // Sorted and unique already; a root is in it only when another root depends on it.
      if (closed) lines = [...new Set([...lines, ...rootSet])].sort(compareAddresses);
      else if (lines.some((l) => rootSet.has(l))) lines = lines.filter((l) => !rootSet.has(l));
    } else {
      const all = await g.run.getAll(roots.map((r) => new DependenciesKey(g.project, r)));
      for (const d of all) collect(d.warnings);
      const out = new Set(all.flatMap((d) => d.dependencies).map(formatAddress));
      if (closed) for (const r of rootSet) out.add(r);
      else for (const r of rootSet) out.delete(r);
      lines = [...out].sort(compareAddresses);
    }
    const sorted = [...warnings.values()].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col));
    if (sorted.length > 0) await write(g.ctx.stderr, sorted.map((w) => `warning: ${w.file}:${w.line}:${w.col}: ${w.message}\n`).join(''));
    await g.emit(lines);
    return 0;
  },
};

import { failure, FailureError } from '../../core/index.js';
import { formatAddress, stringListField, type Address, type Target } from '../../targets/index.js';
import { cycleEdgeNote, handlerOf, TEST, type RuleContext } from '../api/index.js';

/** Most targets a search for a cycle through a test visits before it gives up (it is a check, not the build). */
const MAX_VISITS = 10_000;

/**
 * A test in the `execution_dependencies` of a command gives it nothing (a
 * test makes no files), so no engine cycle arises when that test itself
 * needs the command: the command would run without what it was told to
 * take, and the test would pass on a sandbox nobody meant. It is the cycle
 * it looks like, and reported as one, with where each edge is written.
 * `roots` are what `t`'s sandbox is made of.
 */
export async function checkNoCycleThroughTests(rc: RuleContext, t: Target, roots: readonly Address[], rootsOf: (t: Target) => Promise<readonly Address[]>): Promise<void> {
  const self = t.address;
  for (const root of roots) {
    const r = await rc.target(root);
    const rules = rc.rulesFor(r);
    if (handlerOf(rules, TEST) === undefined || rules?.sandbox?.contribute !== undefined) continue;
    const path = await pathBack(rc, r, self, rootsOf);
    if (path === undefined) continue;
    const ring = [t.addr, ...path];
    const notes = await Promise.all(ring.slice(0, -1).map((from, i) => cycleEdgeNote(rc, from, formatAddress(ring[i + 1]!))));
    throw new FailureError(
      failure('input', 'dependency-cycle', `dependency cycle: ${ring.map(formatAddress).join(' -> ')}`, {
        location: await rc.fieldLocation(t, 'execution_dependencies', await entryNaming(rc, t, r.address)),
        notes,
        hints: [`${r.address} is a test: it makes no files for ${self} to use, and it needs ${self} itself; remove it from \`execution_dependencies\` of ${self}`],
      }),
    );
  }
}

/** The way from `start` back to the target `to` along sandbox roots, breadth first, as addresses ending in `to`. */
async function pathBack(rc: RuleContext, start: Target, to: string, rootsOf: (t: Target) => Promise<readonly Address[]>): Promise<Address[] | undefined> {
  const parent = new Map<string, Address | null>([[start.address, null]]);
  let frontier: Target[] = [start];
  let visits = 0;
  while (frontier.length > 0 && visits < MAX_VISITS) {
    const next: Target[] = [];
    for (const node of frontier) {
      visits++;
      const roots = await rootsOf(node).catch(() => [] as readonly Address[]);
      for (const a of roots) {
        const k = formatAddress(a);
        if (parent.has(k)) continue;
        parent.set(k, node.addr);
        if (k === to) {
          const path: Address[] = [a];
          let p = parent.get(k) ?? null;
          while (p !== null) {
            path.unshift(p);
            p = parent.get(formatAddress(p)) ?? null;
          }
          return path;
        }
        next.push(await rc.target(a));
      }
    }
    frontier = next;
  }
  return undefined;
}

/** The entry of `t`'s `execution_dependencies` that names `address`, to point at it. */
async function entryNaming(rc: RuleContext, t: Target, address: string): Promise<string | undefined> {
  for (const raw of stringListField(t, 'execution_dependencies')) {
    const named = await rc.addressField(t, 'execution_dependencies', [raw]).catch(() => []);
    if (named.some((a) => formatAddress(a) === address)) return raw;
  }
  return undefined;
}

/** As Linux's MAXSYMLINKS: deeper chains of symlinks are refused like loops. */
const MAX_LINK_DEPTH = 40;

/**
 * True when the symlink at `linkPath` resolves outside the tree (`links` maps
 * each symlink's path in the tree to its target). Resolution
 * is lexical but follows the tree's other symlinks, so a chain of links
 * that are each harmless (`s/up → ..`, `e → s/up/s/up/..`) is caught too.
 */
export function symlinkEscapes(links: ReadonlyMap<string, string>, linkPath: string): boolean {
  const resolve = (base: readonly string[], target: string, depth: number): string[] | undefined => {
    if (target.startsWith('/') || depth > MAX_LINK_DEPTH) return undefined;
    let segments = [...base];
    for (const c of target.split('/')) {
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (segments.length === 0) return undefined;
        segments.pop();
        continue;
      }
      const next = links.get([...segments, c].join('/'));
      if (next === undefined) {
        segments.push(c);
        continue;
      }
      const resolved = resolve(segments, next, depth + 1);
      if (resolved === undefined) return undefined;
      segments = resolved;
    }
    return segments;
  };
  const base = linkPath.split('/');
  base.pop();
  return resolve(base, links.get(linkPath)!, 0) === undefined;
}

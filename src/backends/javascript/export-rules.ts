import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { digestString } from '../../core/index.js';
import { mergeTrees, treeFromFiles } from '../../store/index.js';
import { EXPORT, provide, outputsOptions, writeOutputs, type BuiltOutputs, type RuleContext } from '../api/index.js';
import { JsInstallKey } from './install.js';

/** Written into the root node_modules after an export: the digest of what was laid out, so `trews run` skips an export that is current. */
const STAMP = 'node_modules/.trews-export';

/**
 * The workspace's node_modules as the package manager would have laid
 * them out: the cached install's tree plus every link to a workspace
 * package, at their build-root paths.
 */
export async function nodeModulesExport(rc: RuleContext): Promise<BuiltOutputs> {
  const install = await rc.get(new JsInstallKey(rc.ruleEnv));
  const links = await treeFromFiles(rc.store, install.links.map((l) => ({ kind: 'symlink' as const, path: l.path, target: l.target })), rc.signal);
  const tree = await mergeTrees(rc.store, [install.tree, links], rc.signal);
  return { address: 'node_modules', tree, outputs: [...install.realDirs.map((d) => `${d}/**`), `!${STAMP}`], result: install.result };
}

/**
 * Lays the export out in the workspace unless the stamp says it is there
 * already: real files (copies, writable as npm's), only those that differ,
 * stale ones removed.
 */
export async function ensureNodeModules(rc: RuleContext, root: string): Promise<void> {
  const exp = await nodeModulesExport(rc);
  const stamp = digestString(exp.tree);
  const current = await readFile(join(root, STAMP), 'utf8').catch(() => '');
  if (current.trim() === stamp) return;
  await writeOutputs(rc.store, root, exp.tree, exp.outputs, rc.signal, outputsOptions(rc, root));
  await writeFile(join(root, STAMP), `${stamp}\n`);
}

export const exportRule = provide(EXPORT, (rc) => nodeModulesExport(rc));

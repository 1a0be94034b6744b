import { isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import { failure, raise } from '../../core/index.js';
import type { ComputeContext, Key } from '../../engine/index.js';
import { FileTextKey, type Workspace } from '../../fs/index.js';
import { LineIndex } from './json-document.js';
import type { WorkspacePattern } from './package-json.js';

export const PNPM_WORKSPACE_FILE = 'pnpm-workspace.yaml';

/**
 * The `packages` globs of pnpm-workspace.yaml at the build root (null when
 * the file does not exist; [] when it has no `packages`: the root package
 * alone). Read with `yaml` (eemeli/yaml: YAML 1.2, no dependencies, keeps
 * source ranges), so errors name file:line:col.
 */
export class PnpmWorkspaceKey implements Key<readonly WorkspacePattern[] | null> {
  readonly id = 'pnpm-workspace';
  readonly #ws: Workspace;
  constructor(ws: Workspace) {
    this.#ws = ws;
  }
  describe(): string {
    return `parse ${PNPM_WORKSPACE_FILE}`;
  }
  async compute(ctx: ComputeContext): Promise<readonly WorkspacePattern[] | null> {
    const text = await ctx.get(new FileTextKey(this.#ws, PNPM_WORKSPACE_FILE, 'utf8-strict'));
    return text === null ? null : readPnpmWorkspace(text);
  }
}

export function readPnpmWorkspace(text: string): WorkspacePattern[] {
  const path = PNPM_WORKSPACE_FILE;
  const lines = new LineIndex(path, text);
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  const bad = doc.errors[0];
  if (bad !== undefined) {
    const what = bad.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    // yaml reports an unclosed quote where the file ends; the quote that opened it is what to fix.
    const quote = /closing (["'])quote/.exec(what)?.[1];
    const open = quote === undefined ? -1 : text.lastIndexOf(quote, bad.pos[0] - 1);
    const at = open >= 0 ? lines.at(open) : lines.at(bad.pos[0], bad.pos[1] - bad.pos[0]);
    raise(failure('input', 'bad-pnpm-workspace', `invalid YAML: ${what.replace(/"quote$|'quote$/, 'quote')}`, { location: at }));
  }
  const at = (n: YamlNode | null | undefined) => (n?.range ? lines.at(n.range[0], n.range[1] - n.range[0]) : { file: path });
  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) return [];
  if (!isMap(root)) raise(failure('input', 'bad-pnpm-workspace', `${path} must be a mapping with a \`packages\` list`, { location: at(root) }));
  const packages = root.get('packages', true) as YamlNode | undefined;
  if (packages === undefined || (isScalar(packages) && packages.value === null)) return [];
  if (!isSeq(packages)) {
    raise(failure('input', 'bad-pnpm-workspace', `\`packages\` must be a list of globs (\`- "packages/*"\`)`, { location: at(packages) }));
  }
  const out: WorkspacePattern[] = [];
  for (const item of packages.items as YamlNode[]) {
    if (!isScalar(item) || typeof item.value !== 'string') {
      raise(failure('input', 'bad-pnpm-workspace', `every entry of \`packages\` must be a string (a glob of package directories)`, { location: at(item) }));
    }
    out.push({ pattern: item.value, at: at(item) });
  }
  return out;
}

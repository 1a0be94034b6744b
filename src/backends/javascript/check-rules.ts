import { ListingKey } from '../../fs/index.js';
import { DirTargetsKey, type Target } from '../../targets/index.js';
import { outputExcerpt, provide, type CheckOutcome, type RuleContext, CHECK } from '../api/index.js';
import { prepareScript, scriptInfo } from './script-process.js';
import { NODE_SCRIPT } from './target-types.js';

const TSCONFIG = 'tsconfig.json';
/** `--pretty false`: one line per diagnostic, `src/a.ts(3,5): error TS2322: …`, whatever the terminal. */
const TSC = `tsc --noEmit --pretty false -p ${TSCONFIG}`;
const TSC_LINE = /^(.+?)\((\d+),(\d+)\): (error|warning|message) (TS\d+: .*)$/;

/**
 * tsc's diagnostics as `file:line:col: error TS…` with the file from the
 * build root (tsc names it from the package), and the lines that continue
 * a message (indented) kept under it.
 */
export function tscDiagnostics(text: readonly string[], pkgDir: string): string[] {
  const out: string[] = [];
  for (const line of text) {
    const m = TSC_LINE.exec(line);
    if (m !== null) {
      const file = m[1]!.startsWith('/') || pkgDir === '' ? m[1]! : `${pkgDir}/${m[1]!}`;
      out.push(`${file}:${m[2]}:${m[3]}: ${m[4]} ${m[5]}`);
    } else if (out.length > 0 && /^\s/.test(line)) out.push(line);
  }
  return out;
}

/**
 * `trews check` of a package with a tsconfig.json: `tsc --noEmit` in a
 * sandbox laid out as its `build` script's (its inputs, its first-party
 * dependencies' built outputs, so their declarations resolve, and the
 * shared node_modules with typescript), cached like a script. Project
 * references resolve to those built declarations.
 */
async function checkPackage(rc: RuleContext, t: Target): Promise<CheckOutcome | null> {
  const pkgDir = t.addr.dir;
  const listing = await rc.get(new ListingKey(rc.project.ws, pkgDir));
  if (!listing.files.includes(TSCONFIG)) return null;
  const build = (await rc.get(new DirTargetsKey(rc.project, pkgDir))).targets.find((x) => x.type === NODE_SCRIPT && x.fields['script'] === 'build');
  const info = await scriptInfo(rc, build ?? t);
  const { process } = await prepareScript(rc, { ...info, outputs: [] }, {
    cacheScope: 'successful',
    timeoutS: null,
    stages: ['check', TSC],
    description: `Type-check ${t.address} (${TSC}${pkgDir === '' ? '' : ` in ${pkgDir}`})`,
  });
  const result = await rc.execute(process);
  const text = [...(await outputExcerpt(rc.store, result.stdout, 10_000, rc.signal)), ...(await outputExcerpt(rc.store, result.stderr, 10_000, rc.signal))];
  return { result, checker: TSC, diagnostics: tscDiagnostics(text, pkgDir) };
}

export const checkRule = provide(CHECK, checkPackage);

import type { ProcessResult } from '../../exec/index.js';
import { ListingKey } from '../../fs/index.js';
import { DirTargetsKey, type Target } from '../../targets/index.js';
import { outputExcerpt, provide, ScopeOptionsKey, type CheckOutcome, type RuleContext, CHECK } from '../api/index.js';
import { JAVASCRIPT_SCOPE } from './pipeline.js';
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

/** `[javascript] check_scripts`: the scripts `trews check` runs in place of tsc, the first a package has. */
export const CHECK_SCRIPTS_OPTION = 'check_scripts';
export const DEFAULT_CHECK_SCRIPTS: readonly string[] = ['typecheck', 'type-check', 'check-types'];

/** The checker's output, stdout then stderr, as tsc's diagnostics from the build root. */
async function diagnosticsOf(rc: RuleContext, result: ProcessResult, pkgDir: string): Promise<string[]> {
  const text = [...(await outputExcerpt(rc.store, result.stdout, 10_000, rc.signal)), ...(await outputExcerpt(rc.store, result.stderr, 10_000, rc.signal))];
  return tscDiagnostics(text, pkgDir);
}

/**
 * `trews check` of a package: its type-check script when it has one (the
 * first of `[javascript] check_scripts`, by default `typecheck`,
 * `type-check`, `check-types`: what Turborepo's and Nx's templates call
 * it), run as a script (its task's `depends_on`, by default `^build`, and
 * `env`, `timeout`, `cache`), so a repository that checks with `tsc -b`,
 * `vue-tsc` or several tsconfigs is checked its way. Otherwise, with a
 * tsconfig.json: `tsc --noEmit` in a sandbox laid out as its `build`
 * script's (its inputs, its first-party dependencies' built outputs, so
 * their declarations resolve, and the shared node_modules with
 * typescript), cached like a script. Project references resolve to those
 * built declarations. Either way, lines in tsc's format are the
 * diagnostics, from the build root.
 */
async function checkPackage(rc: RuleContext, t: Target): Promise<CheckOutcome | null> {
  const pkgDir = t.addr.dir;
  const [targets, options] = await Promise.all([rc.get(new DirTargetsKey(rc.project, pkgDir)), rc.get(new ScopeOptionsKey(JAVASCRIPT_SCOPE))]);
  const scripts = targets.targets.filter((x) => x.type === NODE_SCRIPT);
  const checkScript = options
    .list(CHECK_SCRIPTS_OPTION)
    .map((name) => scripts.find((x) => x.fields['script'] === name))
    .find((x) => x !== undefined);
  if (checkScript !== undefined) {
    const info = await scriptInfo(rc, checkScript);
    const timeoutS = typeof checkScript.fields['timeout'] === 'number' ? checkScript.fields['timeout'] : null;
    // Failures are never cached; `cache = false` reruns successes too.
    const { process } = await prepareScript(rc, info, { cacheScope: checkScript.fields['cache'] === false ? 'per-run' : 'successful', timeoutS });
    const result = await rc.execute(process);
    return { result, checker: `script \`${info.script}\``, diagnostics: await diagnosticsOf(rc, result, pkgDir) };
  }
  const listing = await rc.get(new ListingKey(rc.project.ws, pkgDir));
  if (!listing.files.includes(TSCONFIG)) return null;
  const build = scripts.find((x) => x.fields['script'] === 'build');
  const info = await scriptInfo(rc, build ?? t);
  const { process } = await prepareScript(rc, { ...info, outputs: [] }, {
    cacheScope: 'successful',
    timeoutS: null,
    stages: ['check', TSC],
    description: `Type-check ${t.address} (${TSC}${pkgDir === '' ? '' : ` in ${pkgDir}`})`,
    sandboxOf: t,
    ...(build !== undefined
      ? {}
      : { declareHint: `declare it: a file of ${pkgDir || 'the root package'} is a source of ${t.address} unless ignored; a file elsewhere reaches tsc through a workspace package ${t.address} depends on` }),
  });
  const result = await rc.execute(process);
  return { result, checker: TSC, diagnostics: await diagnosticsOf(rc, result, pkgDir) };
}

export const checkRule = provide(CHECK, checkPackage);

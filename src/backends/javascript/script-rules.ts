import { join } from 'node:path';
import { FailureError, type Digest } from '../../core/index.js';
import type { CacheScope, ProcessResult } from '../../exec/index.js';
import { EMPTY_TREE_DIGEST } from '../../store/index.js';
import { DirTargetsKey, DependenciesKey, type Target } from '../../targets/index.js';
import {
  BUILD,
  processFailure,
  provide,
  RUN,
  TEST,
  testSettings,
  testTimeoutS,
  outputsOptions,
  writeOutputs,
  type BuiltOutputs,
  type RuleContext,
  type TargetRules,
  type TestOutcome,
} from '../api/index.js';
import { binDirs, DRIVER, outputsTree, prepareScript, rootGlobs, runsPrePost, scriptInfo, scriptTools, stages, type ScriptInfo } from './script-process.js';
import { checkRule } from './check-rules.js';
import { ensureNodeModules, exportRule } from './export-rules.js';
import { packRule } from './pack-rules.js';
import { NODE_SCRIPT } from './target-types.js';

function timeoutOf(t: Target): number | null {
  const v = t.fields['timeout'];
  return typeof v === 'number' ? v : null;
}

function buildScope(t: Target): CacheScope {
  return t.fields['cache'] === false || t.fields['persistent'] === true ? 'per-run' : 'successful';
}

/** Runs a script as a build step: its outputs at build-root paths, or a failure showing its output. */
async function buildStep(rc: RuleContext, info: ScriptInfo): Promise<{ tree: Digest; result: ProcessResult }> {
  const timeoutS = timeoutOf(info.t);
  const { process } = await prepareScript(rc, info, { cacheScope: buildScope(info.t), timeoutS });
  const result = await rc.execute(process);
  if (result.exitCode !== 0 || result.timedOut) {
    throw new FailureError(await processFailure(rc.store, `script \`${info.script}\` of ${info.t.address}`, result, timeoutS, info.location, rc.signal));
  }
  return { tree: await outputsTree(rc, info, result.outputRoot), result };
}

async function runTest(rc: RuleContext, t: Target): Promise<TestOutcome> {
  const info = await scriptInfo(rc, t);
  const settings = await testSettings(rc);
  const timeoutS = testTimeoutS(t, settings);
  // Failures are never cached; --test-force (and `cache = false`) rerun successes too.
  const cacheScope: CacheScope = settings.force || t.fields['cache'] === false ? 'per-run' : 'successful';
  const { process } = await prepareScript(rc, info, { cacheScope, timeoutS });
  return { result: await rc.execute(process), timeoutS };
}

async function build(rc: RuleContext, t: Target): Promise<BuiltOutputs | null> {
  const info = await scriptInfo(rc, t);
  if (info.outputs.length === 0 || t.fields['persistent'] === true) return null;
  const { tree, result } = await buildStep(rc, info);
  return { address: t.address, tree, outputs: rootGlobs(info), result };
}

/** The scripts `t` depends on, and theirs, to the end: what `trews run` builds and writes into the workspace first. */
async function upstreamScripts(rc: RuleContext, t: Target): Promise<Target[]> {
  const seen = new Map<string, Target>();
  let frontier: Target[] = [t];
  while (frontier.length > 0) {
    const next: Target[] = [];
    for (const f of frontier) {
      const deps = await rc.targets((await rc.get(new DependenciesKey(rc.project, f.addr))).dependencies);
      for (const d of deps) {
        if (d.type !== NODE_SCRIPT || seen.has(d.address)) continue;
        seen.set(d.address, d);
        next.push(d);
      }
    }
    frontier = next;
  }
  return [...seen.values()];
}

/**
 * `trews run` of a script: in the workspace (its package's directory), on
 * the terminal, with the client's environment plus what npm would set,
 * after laying out node_modules there from the cached install.
 * The scripts it depends on (`^build`) are built first and their outputs
 * written into the workspace, where it will look for them.
 */
const runScript = provide(RUN, async (rc, t, { args, env }) => {
  const info = await scriptInfo(rc, t);
  // The script resolves its packages from the workspace, as under `npm run`: node_modules is laid out there first (unless current).
  await ensureNodeModules(rc, rc.root);
  for (const dep of await upstreamScripts(rc, t)) {
    const built = await rc.serve(BUILD, dep, undefined);
    if (built !== null) await writeOutputs(rc.store, rc.root, built.tree, built.outputs, rc.signal, outputsOptions(rc, rc.root));
  }
  const { tools, pm } = await scriptTools(rc, info);
  const sh = tools.find((x) => x.name === 'sh')!;
  const cwd = join(rc.root, info.pkgDir);
  const path = [...binDirs(info.pkgDir, rc.root), ...(env['PATH'] !== undefined ? [env['PATH']] : [])].join(':');
  return {
    argv: [sh.path, '-c', DRIVER, t.address, ...stages(info.manifest, info.script, runsPrePost(pm), args)],
    env: {
      ...env,
      PATH: path,
      ...(info.manifest.name !== null ? { npm_package_name: info.manifest.name } : {}),
      ...(info.manifest.version !== null ? { npm_package_version: info.manifest.version } : {}),
    },
    cwd,
  };
});

export const nodeScriptRules: TargetRules = {
  sandbox: {
    // A script contributes its outputs to the scripts that depend on it, never its inputs.
    opaque: true,
    async contribute(rc, t) {
      if (t.fields['persistent'] === true) return EMPTY_TREE_DIGEST;
      return (await buildStep(rc, await scriptInfo(rc, t))).tree;
    },
  },
  provides: [provide(TEST, runTest), provide(BUILD, build), runScript],
};

/** A package builds by its `build` script (none: nothing to build). */
async function buildPackage(rc: RuleContext, t: Target): Promise<BuiltOutputs | null> {
  const own = (await rc.get(new DirTargetsKey(rc.project, t.addr.dir))).targets.find((x) => x.type === NODE_SCRIPT && x.fields['script'] === 'build');
  if (own === undefined) return null;
  return rc.serve(BUILD, own, undefined);
}

export const packageJsonRules: TargetRules = {
  sandbox: { sources: true },
  provides: [provide(BUILD, buildPackage), checkRule, exportRule, packRule],
};

import type { ProcessInit } from '../../exec/index.js';
import { SANDBOX_SCOPE } from '../../options/index.js';
import type { Target } from '../../targets/index.js';
import { isolationOf, toolSearchPath, type Environment, type RuleContext, type Tool } from '../api/index.js';
import { NODEJS_SEARCH, type PackageManagerTool } from './nodejs.js';

/** This machine, for processes that have no environment of their own (the install, pack). */
export const LOCAL: Environment = { kind: 'local', name: '__local__', address: null, searchPaths: null, compatiblePlatforms: [] };

/** What a JavaScript process's sandbox is: its isolation, and what a strict one must show it of this machine. */
export type JsSandbox = Pick<ProcessInit, 'isolation' | 'network' | 'hostTools' | 'hostSearchPath' | 'sourceRoot' | 'declareHint'>;

/**
 * The isolation of a JavaScript process (install, script, check, pack):
 * its target's `sandbox_isolation` and `network` (a script's default to
 * its package_json's), else `[sandbox] isolation`; with no target (the
 * install), the option and `network`. Under strict isolation the sandbox
 * shows node's and the tools' directories and the package manager's whole
 * installed package (npm's program reads its `lib/` beside it), read-only,
 * and bwrap is looked for where node is (`[nodejs] search_path`). A
 * remote environment's tools are names its worker resolves: nothing of
 * this machine to show.
 */
export async function jsSandbox(
  rc: RuleContext,
  t: Target | undefined,
  environment: Environment,
  tools: readonly Tool[],
  pm: PackageManagerTool,
  o: { readonly declareHint: string; readonly network?: boolean },
): Promise<JsSandbox> {
  const { isolation, network } =
    t !== undefined ? await isolationOf(rc, t) : { isolation: (await rc.options(SANDBOX_SCOPE)).enum<'none' | 'strict'>('isolation'), network: o.network === true };
  if (isolation !== 'strict') return {};
  if (environment.kind === 'remote') return { isolation, network, declareHint: o.declareHint };
  const hostTools = [...tools.filter((x) => x.searchOnWorker === undefined).map((x) => x.path), ...(pm.home !== undefined ? [pm.home] : [])];
  return { isolation, network, hostTools, hostSearchPath: await toolSearchPath(rc, NODEJS_SEARCH), sourceRoot: rc.root, declareHint: o.declareHint };
}

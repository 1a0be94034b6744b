import { execFile } from 'node:child_process';
import { dirnameRel, err, failure, ok, type Result } from '../core/index.js';
import { compareAddresses, formatAddress, generatorOf, type Address } from './address.js';
import { DirTargetsKey } from './dir-targets.js';
import { dependentsOf, type Reader } from './graph.js';
import { OwnersKey } from './owners.js';
import type { Project } from './project.js';

export type ChangedDependents = 'none' | 'direct' | 'transitive';

function git(args: readonly string[], cwd: string, env: Readonly<Record<string, string>>, signal: AbortSignal): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('git', args as string[], { cwd, env: { ...env, GIT_OPTIONAL_LOCKS: '0' }, signal, maxBuffer: 256 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 127) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/**
 * Files that differ from `since` in the working tree: committed, staged and
 * unstaged changes (both sides of renames), plus untracked files that are not
 * git-ignored. Paths are relative to the build root, which may sit inside a
 * larger git repository.
 */
export async function changedFiles(opts: {
  readonly root: string;
  readonly since: string;
  readonly env: Readonly<Record<string, string>>;
  readonly signal: AbortSignal;
}): Promise<Result<string[]>> {
  const { root, since, env, signal } = opts;
  const diff = await git(['diff', '--name-only', '--no-renames', '--relative', since, '--'], root, env, signal);
  if (diff.code !== 0) {
    const msg = diff.stderr.trim().split('\n')[0] ?? '';
    if (diff.code === 127) {
      return err(failure('environment', 'git-missing', '`--changed-since` needs git, and `git` could not be run', { hints: ['install git, or drop --changed-since'] }));
    }
    if (/not a git repository/i.test(diff.stderr)) {
      return err(failure('input', 'not-a-git-repo', `\`--changed-since\` needs a git repository, and ${root} is not in one`, { exitCode: 2 }));
    }
    return err(
      failure('input', 'bad-git-ref', `\`--changed-since=${since}\`: git cannot compare against \`${since}\`: ${msg}`, {
        exitCode: 2,
        hints: ['give a commit, branch or tag that exists locally (run `git fetch` if it is a remote branch)'],
      }),
    );
  }
  const untracked = await git(['ls-files', '--others', '--exclude-standard'], root, env, signal);
  const files = new Set<string>();
  for (const out of [diff.stdout, untracked.code === 0 ? untracked.stdout : '']) {
    for (const line of out.split('\n')) if (line !== '') files.add(line);
  }
  return ok([...files].sort());
}

/**
 * The targets a set of changed files touches: their owners, every target
 * declared by a changed BUILD file (or inferred from a changed file), and (per `dependents`) the targets that depend on those.
 */
export async function changedTargets(
  reader: Reader,
  project: Project,
  files: readonly string[],
  dependents: ChangedDependents,
): Promise<Address[]> {
  const found = new Map<string, Address>();
  // A changed BUILD file, or a file a backend infers targets from (a package.json), changes every target it declares.
  const changed = new Set(files);
  const dirs = [...new Set(files.map(dirnameRel))];
  for (const dt of await reader.getAll(dirs.map((d) => new DirTargetsKey(project, d)))) {
    for (const t of dt.targets) if (changed.has(t.buildFile)) found.set(t.address, t.addr);
  }
  const owners = await reader.getAll(files.map((f) => new OwnersKey(project, f)));
  for (const list of owners) for (const a of list) found.set(formatAddress(a), a);
  let roots = [...found.values()];
  // A file target that depends on a changed target makes its generator affected too: a JavaScript package is
  // checked and built as a whole, and a file of it importing another package's (through tsconfig `paths`, as Nx
  // workspaces do, with no package.json dependency) is an edge only the file-level graph has. A BUILD file's
  // generator already depends on what it generated, so for it this adds nothing.
  while (dependents !== 'none' && roots.length > 0) {
    const generators: Address[] = [];
    for (const d of await dependentsOf(reader, project, roots, dependents === 'transitive')) {
      found.set(formatAddress(d), d);
      const g = generatorOf(d);
      if (g !== undefined && !found.has(formatAddress(g))) generators.push(g);
    }
    for (const g of generators) found.set(formatAddress(g), g);
    // Direct: one step from what changed, and the generators of the files it reached. Transitive: on from those generators.
    roots = dependents === 'transitive' ? generators : [];
  }
  return [...found.keys()].sort(compareAddresses).map((k) => found.get(k)!);
}

// Generates one repo that Bazel, Turborepo, Nx and trews can all build:
//   node dist/bench/peers/generate-peers-repo.js [--out bench/out/peers-200] [--packages 200] [--no-install]
// The package graph and the build step are those of the shell repo
// (bench/generate-shell-repo.ts): package i has three sources, a step
// `node build.js` over them and over the outputs of packages i-1 and i-7, and
// a test `node test.js` on its output. Each tool gets it the way its users
// would write it:
// - npm workspaces: packages/p<i>/package.json with `build` and `test`
//   scripts and its dependencies, which Turborepo (turbo.json) and Nx
//   (nx.json) run with `npm run`; turbo and nx installed into the repo by npm,
//   at the versions pinned below;
// - trews: BUILD files (`shell_command`, `test_shell_command`) and one root
//   `archive` of all N outputs, the target of "build everything";
// - Bazel: BUILD.bazel files (trews reads only `BUILD` here), a `genrule`
//   running node directly and a `node_test` (node_test.bzl) per package, a
//   disk cache.
// Every tool's cache lives under <repo>/.bench/, so one `rm -rf` is cold.
// The repo is a git repository with everything committed, as a user's is
// (Turborepo and Nx hash what git knows).
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs } from '../bench-args.js';
import { BUILD_JS, buildFileText, depsOf, packageDir, TEST_JS } from '../generate-shell-repo.js';

export { depsOf, packageDir };

/** Pinned so every run of the benchmark measures the same peers (the latest on npm on 2026-12-04). */
export const TURBO_VERSION = '2.11.13';
export const NX_VERSION = '24.0.7';

export const packageName = (i: number): string => `@peers/p${i}`;
/** Where package i's build step writes, relative to the package (and to the repo root under Bazel's bazel-bin). */
export const outputOf = (i: number): string => `out/p${i}.txt`;
/** Each tool's caches, and the trews store, relative to the repo root. */
export const CACHE_DIR = '.bench';
/** trews' archive of all outputs, as `trews package ::` writes it. */
export const ARCHIVE_TARGET = '//:all';

const GITIGNORE = ['node_modules/', 'out/', '/dist/', '.turbo/', '.nx/', '.trews.d/', '/bazel-*', `/${CACHE_DIR}/`, ''].join('\n');
const BAZELIGNORE = ['node_modules', 'dist', '.turbo', '.nx', '.trews.d', CACHE_DIR, ''].join('\n');

function packageJson(i: number): string {
  const deps = depsOf(i);
  const pkg = {
    name: packageName(i),
    version: '0.0.0',
    private: true,
    scripts: {
      build: ['node build.js', outputOf(i), ...deps.map((d) => `../p${d}/${outputOf(d)}`)].join(' '),
      test: `node test.js ${outputOf(i)} ${3 + deps.length}`,
    },
    dependencies: Object.fromEntries(deps.map((d) => [packageName(d), '0.0.0'])),
  };
  return JSON.stringify(pkg, null, 2) + '\n';
}

// A test rule of our own rather than sh_test: sh_test needs the Windows
// launcher, hence @rules_cc, which an offline Bazel cannot fetch.
const NODE_TEST_BZL = `# A Bazel test that runs \`node <script> <output> <lines>\` in its runfiles.
def _node_test_impl(ctx):
    runner = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.write(
        runner,
        "#!/bin/sh\\nexec node {} {} {}\\n".format(ctx.file.script.short_path, ctx.file.output.short_path, ctx.attr.lines),
        is_executable = True,
    )
    return [DefaultInfo(executable = runner, runfiles = ctx.runfiles(files = [ctx.file.script, ctx.file.output]))]

node_test = rule(
    implementation = _node_test_impl,
    test = True,
    attrs = {
        "script": attr.label(allow_single_file = True),
        "output": attr.label(allow_single_file = True),
        "lines": attr.int(),
    },
)
`;

function bazelBuildFile(i: number): string {
  const deps = depsOf(i);
  const depLabels = deps.map((d) => `//${packageDir(d)}:build`);
  // Genrules run at the execution root; build.js reads src/ where it runs.
  const cmd = ['R=$$PWD && cd', packageDir(i), '&& node build.js $$R/$@', ...depLabels.map((l) => `$$R/$(location ${l})`)].join(' ');
  return [
    'load("//:node_test.bzl", "node_test")',
    '',
    'package(default_visibility = ["//visibility:public"])',
    '',
    'genrule(',
    '    name = "build",',
    `    srcs = glob(["src/*.txt"]) + ["build.js"${depLabels.map((l) => `, "${l}"`).join('')}],`,
    `    outs = ["${outputOf(i)}"],`,
    `    cmd = "${cmd}",`,
    ')',
    '',
    'node_test(',
    '    name = "test",',
    '    size = "small",',
    '    script = "test.js",',
    '    output = ":build",',
    `    lines = ${3 + deps.length},`,
    ')',
    '',
  ].join('\n');
}

function archiveBuildFile(packages: number): string {
  const files = Array.from({ length: packages }, (_, i) => `        "//${packageDir(i)}:build",`);
  return ['# Everything, in one package: `trews package ::` builds all N outputs.', 'archive(', '    name="all",', '    format="tar",', '    files=[', ...files, '    ],', ')', ''].join('\n');
}

export interface PeersRepo {
  readonly root: string;
  readonly packages: number;
}

/** Runs a command to completion; a non-zero exit throws with its output. */
export function run(cwd: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed in ${cwd} (exit ${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
}

/** `npm install` (when asked) in a generated repo, then commits it all as its first commit, naming `generator`. */
export function installAndCommit(root: string, install: boolean, generator: string): void {
  if (install) run(root, ['npm', 'install', '--no-audit', '--no-fund', '--loglevel=error']);
  const git = ['git', '-c', 'user.name=bench', '-c', 'user.email=bench@localhost', '-c', 'init.defaultBranch=main'];
  run(root, [...git, 'init', '-q']);
  run(root, [...git, 'add', '-A']);
  run(root, [...git, 'commit', '-q', '-m', `generated by ${generator}`]);
}

/** What a generator writes a repo with: `w(rel, text)` writes a file (its directories made). */
export interface RepoWriter {
  readonly root: string;
  readonly w: (rel: string, text: string) => void;
  /** The npm that will install it, for the root package.json's `packageManager`. */
  readonly npmVersion: string;
}

/** Empties `root` (made absolute) for a generator, with its bench cache directory in it. */
export function startRepo(root: string, cacheDir: string): RepoWriter {
  root = resolve(root);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(join(root, cacheDir), { recursive: true });
  const w = (rel: string, text: string): void => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  };
  return { root, w, npmVersion: spawnSync('npm', ['--version'], { encoding: 'utf8' }).stdout.trim() };
}

/** Writes the repo (replacing what is at `root`), installs turbo and nx with npm unless told not to, and commits it all. */
export function generatePeersRepo(root: string, packages: number, opts: { install?: boolean } = {}): PeersRepo {
  const repo = startRepo(root, CACHE_DIR);
  root = repo.root;
  const { w, npmVersion } = repo;
  w('.gitignore', GITIGNORE);
  w(
    'package.json',
    JSON.stringify(
      {
        name: 'peers-bench-repo',
        private: true,
        // Turborepo needs to know the package manager it runs scripts with.
        packageManager: `npm@${npmVersion}`,
        workspaces: ['packages/*'],
        devDependencies: { nx: NX_VERSION, turbo: TURBO_VERSION },
      },
      null,
      2,
    ) + '\n',
  );
  w(
    'turbo.json',
    JSON.stringify(
      {
        $schema: 'https://turborepo.com/schema.json',
        tasks: {
          build: { dependsOn: ['^build'], outputs: ['out/**'] },
          test: { dependsOn: ['build'] },
        },
      },
      null,
      2,
    ) + '\n',
  );
  w(
    'nx.json',
    JSON.stringify(
      {
        $schema: './node_modules/nx/schemas/nx-schema.json',
        // Local runs only: no Nx Cloud, no usage analytics, the cache in the repo (as every tool's here).
        neverConnectToCloud: true,
        analytics: false,
        cacheDirectory: `${CACHE_DIR}/nx-cache`,
        targetDefaults: {
          build: { dependsOn: ['^build'], outputs: ['{projectRoot}/out'], cache: true },
          test: { dependsOn: ['build'], cache: true },
        },
      },
      null,
      2,
    ) + '\n',
  );
  // trews: only `BUILD` is a BUILD file here; BUILD.bazel is Bazel's.
  w('trews.toml', ['# generated by bench/peers/generate-peers-repo.ts', '[GLOBAL]', 'build_patterns = ["BUILD"]', `local_store_dir = ${JSON.stringify(join(root, CACHE_DIR, 'trews-store'))}`, ''].join('\n'));
  w('BUILD', archiveBuildFile(packages));
  w('WORKSPACE', 'workspace(name = "peers")\n');
  w('.bazelignore', BAZELIGNORE);
  w(
    '.bazelrc',
    [
      `startup --output_user_root=${join(root, CACHE_DIR, 'bazel-root')}`,
      `build --disk_cache=${join(root, CACHE_DIR, 'bazel-disk-cache')}`,
      // Debian's /etc/bazel/bazelrc turns on --sandbox_debug, which keeps every sandbox on disk.
      'build --nosandbox_debug',
      // Test rules depend on the coverage report generator, which Bazel downloads
      // (@remote_coverage_tools) even when no coverage is collected; offline, point it at a stub.
      'build --coverage_report_generator=//:no-coverage.sh',
      '',
    ].join('\n'),
  );
  w('BUILD.bazel', 'exports_files(["no-coverage.sh"])\n');
  w('no-coverage.sh', '#!/bin/sh\necho "coverage is not collected in this benchmark" >&2\nexit 1\n');
  chmodSync(join(root, 'no-coverage.sh'), 0o755);
  w('node_test.bzl', NODE_TEST_BZL);
  for (let i = 0; i < packages; i++) {
    const dir = packageDir(i);
    w(`${dir}/package.json`, packageJson(i));
    w(`${dir}/BUILD`, buildFileText(i));
    w(`${dir}/BUILD.bazel`, bazelBuildFile(i));
    w(`${dir}/build.js`, BUILD_JS);
    w(`${dir}/test.js`, TEST_JS);
    for (const [k, name] of ['a', 'b', 'c'].entries()) {
      w(`${dir}/src/${name}.txt`, Array.from({ length: 3 + ((i + k) % 5) }, (_, j) => `package ${i} file ${name} line ${j}`).join('\n') + '\n');
    }
  }
  installAndCommit(root, opts.install !== false, 'bench/peers/generate-peers-repo.ts');
  writeFileSync(join(root, CACHE_DIR, 'repo.json'), JSON.stringify({ packages, turbo: TURBO_VERSION, nx: NX_VERSION }) + '\n');
  return { root, packages };
}

/** The repo at `root` as the generator left it, if it was generated with these settings. */
export function existingPeersRepo(root: string, packages: number): PeersRepo | undefined {
  root = resolve(root);
  const marker = join(root, CACHE_DIR, 'repo.json');
  if (!existsSync(marker)) return undefined;
  const m = JSON.parse(readFileSync(marker, 'utf8')) as { packages: number; turbo: string; nx: string };
  return m.packages === packages && m.turbo === TURBO_VERSION && m.nx === NX_VERSION ? { root, packages } : undefined;
}

const sum = (text: string | Buffer): string => createHash('sha256').update(text).digest('hex').slice(0, 12);

/**
 * What every package's build step must write given the sources now in the
 * repo: build.js computed here, so a check can tell a fresh output from a
 * stale one whichever tool wrote it.
 */
export function expectedOutputs(repo: PeersRepo): string[] {
  const outs: string[] = [];
  for (let i = 0; i < repo.packages; i++) {
    const lines: string[] = [];
    for (const f of ['a.txt', 'b.txt', 'c.txt']) {
      const text = readFileSync(join(repo.root, packageDir(i), 'src', f), 'utf8');
      lines.push(`${f}: ${text.split('\n').filter(Boolean).length} lines, ${sum(text)}`);
    }
    for (const d of depsOf(i)) lines.push(`${basename(outputOf(d))}: ${sum(outs[d]!)}`);
    outs.push(lines.join('\n') + '\n');
  }
  return outs;
}

/** The packages whose build step depends on package `i`'s, transitively, and `i` itself. */
export function downstreamOf(i: number, packages: number): number[] {
  const hit = new Set([i]);
  for (let j = i + 1; j < packages; j++) if (depsOf(j).some((d) => hit.has(d))) hit.add(j);
  return [...hit].sort((a, b) => a - b);
}

export const defaultRepoDir = (packages: number): string => join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bench', 'out', `peers-${packages}`);

if (process.argv[1]?.endsWith('generate-peers-repo.js')) {
  const { values } = benchArgs(import.meta.url, { options: { out: { type: 'string' }, packages: { type: 'string', default: '200' }, 'no-install': { type: 'boolean', default: false } } });
  const packages = Number(values.packages);
  if (!Number.isInteger(packages) || packages < 1) {
    console.error('usage: node dist/bench/peers/generate-peers-repo.js [--out DIR] [--packages 200] [--no-install]');
    process.exit(2);
  }
  const r = generatePeersRepo(values.out ?? defaultRepoDir(packages), packages, { install: !values['no-install'] });
  console.log(`wrote ${r.packages} packages to ${r.root}${values['no-install'] ? '' : ` (turbo ${TURBO_VERSION}, nx ${NX_VERSION} installed)`}`);
}

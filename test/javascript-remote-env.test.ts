// End-to-end: a JavaScript script whose target names a remote_environment
// runs on a real `trews remote-server` (remote_execution off: only the
// environment sends it there), with node, sh and the package manager found
// by name on the environment's executable_search_paths on the worker (a
// `node` the client's search path does not have), the install's
// node_modules sent by tree digest and made there from the CAS, and the
// outputs written back into the workspace. Then the same on a server that
// runs every action strictly isolated.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { lockedSemverEntry, type CliResult } from './helpers/index.js';
import { startServer, type ServerProcess } from './helpers/remote-client.js';
import { makeShellRepo, summaryLine, type ShellRepo } from './helpers/shell.js';

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;
const NPM_CACHE = process.env.npm_config_cache ?? join(homedir(), '.npm');
const WORKER_PLATFORM = ['--platform', 'OSFamily=linux', '--platform', 'ISA=x86-64'];

function workspace(workerBin: string): Record<string, string> {
  const semver = lockedSemverEntry();
  const build = "const fs=require('fs');fs.mkdirSync('dist',{recursive:true});fs.writeFileSync('dist/v.txt', require('semver').valid('1.2.3') + ' ' + (process.env.WORKER_NODE || 'client node'))";
  return {
    'package.json': json({ name: 'acme', private: true, workspaces: ['packages/*'] }),
    'package-lock.json': json({
      name: 'acme',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'acme', workspaces: ['packages/*'] },
        'node_modules/@acme/lib': { resolved: 'packages/lib', link: true },
        'node_modules/semver': semver,
        'packages/lib': { name: '@acme/lib', version: '1.0.0', dependencies: { semver: semver.version } },
      },
    }),
    'trews.toml': '[environments]\nnames = { worker = "//envs:worker", strict_worker = "//envs:strict_worker" }\n',
    'envs/BUILD': [
      `remote_environment(name="worker", executable_search_paths=["${workerBin}", "/usr/bin", "/bin"])`,
      'remote_environment(name="strict_worker", executable_search_paths=["/usr/bin", "/bin"])',
      '',
    ].join('\n'),
    'packages/lib/package.json': json({ name: '@acme/lib', version: '1.0.0', private: true, scripts: { build: `node -e "${build}"` }, dependencies: { semver: semver.version } }),
    'packages/lib/BUILD': 'node_script(name="build", environment="worker")\n',
  };
}

describe('a JavaScript script in a remote environment', () => {
  let server: ServerProcess;
  let repo: ShellRepo;
  let workerBin: string;
  before(async () => {
    workerBin = await mkdtemp(join(tmpdir(), 'trews-js-worker-bin-'));
    // The worker's node: the client's [nodejs] search_path (its PATH) does not hold it.
    await writeFile(join(workerBin, 'node'), '#!/bin/sh\nWORKER_NODE="worker node" exec /usr/bin/node "$@"\n', { mode: 0o755 });
    server = await startServer({ args: WORKER_PLATFORM });
    repo = await makeShellRepo(workspace(workerBin));
  });
  after(async () => {
    await server.stop();
    await repo.cleanup();
    await rm(workerBin, { recursive: true, force: true });
  });

  const trews = (args: string[], env: Record<string, string> = {}): Promise<CliResult> =>
    repo.trews(args, { env: { npm_config_cache: NPM_CACHE, TREWS_REMOTE_EXECUTION_SERVER: `grpc://${server.address}`, ...env }, timeoutMs: 240_000 });

  it('installs here, builds on the worker with its node, and writes the outputs to dist/', async () => {
    const r = await trews(['build', 'packages/lib:build']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(summaryLine(r.stderr), '1 ran locally, 1 ran remotely');
    assert.equal(await readFile(join(repo.root, 'packages/lib/dist/v.txt'), 'utf8'), '1.2.3 worker node');
    assert.match(server.log(), /exit 0 in .*\.trews-tools\/sh -c/);
  });

  it('on a server that runs every action strictly isolated, node from the worker\'s system directories', { skip: existsSync('/usr/bin/bwrap') || process.env['CI'] === 'true' ? false : 'bubblewrap is not installed here (CI installs it: .ci/run)' }, async () => {
    const strict = await startServer({ args: [...WORKER_PLATFORM, '--isolation', 'strict'] });
    try {
      await writeFile(join(repo.root, 'packages/lib/BUILD'), 'node_script(name="build", environment="strict_worker")\n');
      const r = await trews(['build', 'packages/lib:build'], { TREWS_REMOTE_EXECUTION_SERVER: `grpc://${strict.address}` });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(summaryLine(r.stderr), '1 ran remotely, 1 from the local cache');
      assert.equal(await readFile(join(repo.root, 'packages/lib/dist/v.txt'), 'utf8'), '1.2.3 client node');
    } finally {
      await strict.stop();
    }
  });
});

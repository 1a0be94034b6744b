// The CommandRunner contract (src/exec/command-runner-contract.ts) run
// against the remote layers as the CLI builds them: the remote cache runner
// over the local sandbox (with a real `trews remote-server`, and with an
// HTTP cache), and the remote execution runner on a real `trews
// remote-server`. Both servers run on 127.0.0.1, so the suite may check by
// pid that processes are gone.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { nullLogger } from '../src/core/index.js';
import { commandRunnerContract, type CommandRunnerFixture } from '../src/exec/command-runner-contract.js';
import { createLocalRunner } from '../src/exec/index.js';
import { createRemoteLayers } from '../src/remote/client/index.js';
import { startHttpCacheServer, type HttpCacheServer } from './helpers/http-cache-server.js';
import { remoteOptions, startServer, tempStore, type ServerProcess } from './helpers/remote-client.js';

/** The remote cache layer the CLI would build from `env`, around a local sandbox runner of its own. */
async function cacheFixture(env: Record<string, string>): Promise<CommandRunnerFixture> {
  const local = await tempStore();
  const layers = createRemoteLayers(remoteOptions(env), { store: local.store, logger: nullLogger });
  assert.ok(layers?.wrapCache, 'a remote cache layer for these options');
  const sandboxRoot = join(local.dir, 'sandboxes');
  const runner = layers.wrapCache(createLocalRunner({ store: layers.store, sandboxRoot }));
  return {
    runner,
    store: local.store,
    sandboxRoot,
    async dispose() {
      await layers.close();
      await local.dispose();
    },
  };
}

const cacheEnv = (address: string): Record<string, string> => ({ TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_CACHE_WRITE: 'true', TREWS_REMOTE_STORE_SERVER: address });

describe('remote runners through a real trews remote-server', () => {
  // One server for the file: each case's processes are its own, so results
  // another case cached cannot answer for them.
  let server: ServerProcess;
  before(async () => {
    server = await startServer();
  });
  after(() => server.stop());

  commandRunnerContract('remote cache runner (REAPI) over the local sandbox', () => cacheFixture(cacheEnv(`grpc://${server.address}`)));

  commandRunnerContract('remote execution runner', async () => {
    const local = await tempStore();
    const env = { TREWS_REMOTE_EXECUTION: 'true', TREWS_REMOTE_STORE_SERVER: `grpc://${server.address}`, TREWS_REMOTE_EXECUTION_SERVER: `grpc://${server.address}` };
    const layers = createRemoteLayers(remoteOptions(env), { store: local.store, logger: nullLogger });
    assert.ok(layers?.execution, 'a remote execution runner for these options');
    return {
      runner: layers.execution,
      store: layers.store,
      async dispose() {
        await layers.close();
        await local.dispose();
      },
    };
  }, {
    // The server's own failure, relayed: a FAILED_PRECONDITION naming the program and the PATH it searched.
    missingProgramReason: 'remote-execution-failed',
    // CancelOperation asks the server to kill; the client cannot wait for it.
    killedOnCancel: 'soon-after',
  });
});

describe('the remote cache runner over an HTTP cache', () => {
  let server: HttpCacheServer;
  before(async () => {
    server = await startHttpCacheServer();
  });
  after(() => server.stop());

  commandRunnerContract('remote cache runner (HTTP cache) over the local sandbox', () => cacheFixture(cacheEnv(server.url)));
});

// A cache server found down is remembered for the rest of that run (one
// round of retries, not one per process), and asked again by the next run:
// a daemon keeps its remote layers between runs, and must notice a cache
// that came back. Both providers, against real servers that stop and start
// again on the same port.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { nullLogger } from '../src/core/index.js';
import { makeCommandRunner, makeProcess, type CommandRunner, type Process } from '../src/exec/index.js';
import { createRemoteLayers, type RemoteLayers } from '../src/remote/client/index.js';
import { treeFromBytes, type LocalStore } from '../src/store/index.js';
import { startHttpCacheServer } from './helpers/http-cache-server.js';
import { execContext, remoteOptions, startServer, tempStore, type TempStore } from './helpers/remote-client.js';

interface Daemonish {
  readonly layers: RemoteLayers;
  readonly runner: CommandRunner;
  readonly local: TempStore;
  /** Warnings shown to the runs, in order. */
  readonly warnings: string[];
}

async function daemonish(address: string): Promise<Daemonish> {
  const local = await tempStore();
  const options = remoteOptions({ TREWS_REMOTE_CACHE_READ: 'true', TREWS_REMOTE_CACHE_WRITE: 'true', TREWS_REMOTE_STORE_SERVER: address, TREWS_REMOTE_STORE_RPC_RETRIES: '0' });
  const layers = createRemoteLayers(options, { store: local.store, logger: nullLogger });
  assert.ok(layers);
  const runner = makeCommandRunner({ options, store: layers.store, logger: nullLogger, sandboxRoot: join(local.dir, 'sandboxes'), remote: layers });
  return { layers, runner, local, warnings: [] };
}

async function shell(store: LocalStore, script: string): Promise<Process> {
  const inputRoot = await treeFromBytes(store, [{ path: 'in.txt', content: 'input\n' }]);
  return makeProcess({ argv: ['/bin/sh', '-c', script], env: { PATH: '/usr/bin:/bin' }, inputRoot, outputFiles: ['out.txt'], description: `sh -c ${script}` });
}

/** One run of a daemon: a process, then the end of the run (background writes flushed). */
async function run(d: Daemonish, script: string): Promise<void> {
  const r = await d.runner.run({ ...execContext(), warn: (m) => d.warnings.push(m) }, await shell(d.local.store, script));
  assert.equal(r.source, 'ran locally');
  await d.layers.flush();
}

describe('a remote cache found down, then back', () => {
  it('REAPI: the next run writes to the server that came back', async () => {
    const first = await startServer();
    const { port, address } = first;
    await first.stop();
    const d = await daemonish(`grpc://${address}`);
    let back: Awaited<ReturnType<typeof startServer>> | undefined;
    try {
      await run(d, 'echo one > out.txt');
      assert.match(d.warnings.join('\n'), /GetCapabilities failed with UNAVAILABLE/);
      back = await startServer({ port });
      // gRPC's channel may still be backing off from the refused connections
      // when the next run starts; a later run must get through (with the
      // failure remembered for good, none ever would).
      const deadline = Date.now() + 30_000;
      for (let i = 2; !/rpc (ActionCache\.)?UpdateActionResult OK/.test(back.log()); i++) {
        assert.ok(Date.now() < deadline, `no run reached the server that came back:\n${d.warnings.join('\n')}`);
        await run(d, `echo ${i} > out.txt`);
      }
    } finally {
      await d.layers.close();
      await d.local.dispose();
      await back?.stop();
    }
  });

  it('HTTP: the next run writes to the cache that came back', async () => {
    const first = await startHttpCacheServer();
    const port = Number(new URL(first.url).port);
    await first.stop();
    const d = await daemonish(first.url);
    let back: Awaited<ReturnType<typeof startHttpCacheServer>> | undefined;
    try {
      await run(d, 'echo one > out.txt');
      assert.match(d.warnings.join('\n'), /ECONNREFUSED/);
      const warned = d.warnings.length;
      back = await startHttpCacheServer({ port });
      await run(d, 'echo two > out.txt');
      assert.equal(d.warnings.length, warned, `no new warning: ${d.warnings.slice(warned).join('\n')}`);
      assert.equal(back.requests.filter((r) => /^PUT \/ac\/[0-9a-f]{64} 200$/.test(r)).length, 1, back.requests.join('\n'));
    } finally {
      await d.layers.close();
      await d.local.dispose();
      await back?.stop();
    }
  });
});

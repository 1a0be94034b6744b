import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readBootstrap } from './bootstrap.js';
import { nativeFallbackReason } from './native-fallback.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A build root with `toml`, and the daemon that would serve it with `argv`'s options. */
function daemonFor(toml: string, argv: string[] = []): { root: string; fingerprint: string } {
  const root = mkdtempSync(join(tmpdir(), 'trews-native-fb-'));
  dirs.push(root);
  writeFileSync(join(root, 'trews.toml'), toml);
  const boot = readBootstrap({ argv, env: {}, root, homeDir: root });
  assert.ok(boot.ok);
  return { root, fingerprint: boot.value.fingerprint };
}

describe('which native requests the daemon hands back', () => {
  test('serves a request with its own options, from the root or below it', () => {
    const d = daemonFor('[GLOBAL]\nlevel = "warn"\n');
    mkdirSync(join(d.root, 'a', 'b'), { recursive: true });
    assert.equal(nativeFallbackReason({ argv: ['list', '::'], env: {}, cwd: d.root }, d), undefined);
    assert.equal(nativeFallbackReason({ argv: ['--tag=x', 'test', 'a::'], env: { PATH: '/bin' }, cwd: join(d.root, 'a', 'b') }, d), undefined);
  });

  test('hands back other options, from a flag or the environment', () => {
    const d = daemonFor('');
    assert.equal(nativeFallbackReason({ argv: ['--level=debug', 'list', '::'], env: {}, cwd: d.root }, d), 'other daemon options');
    assert.equal(nativeFallbackReason({ argv: ['list', '::'], env: { TREWS_LEVEL: 'debug' }, cwd: d.root }, d), 'other daemon options');
  });

  test('hands back what the Node client would not send to this daemon', () => {
    const d = daemonFor('');
    const other = daemonFor('');
    const outside = mkdtempSync(join(tmpdir(), 'trews-native-fb-none-'));
    dirs.push(outside);
    const reason = (argv: string[], env: Record<string, string> = {}, cwd = d.root): string | undefined => nativeFallbackReason({ argv, env, cwd }, d);
    assert.equal(reason(['daemon', 'status']), '`trews daemon` runs in the client');
    assert.equal(reason(['version'], {}, outside), 'no build root');
    assert.equal(reason(['version'], {}, other.root), `another build root (${other.root})`);
    assert.equal(reason(['remote-server', '--listen', '127.0.0.1:0']), 'a server command runs in its own process');
    assert.equal(reason(['--level=loud', 'list', '::']), 'the options have an error');
    assert.equal(reason(['list', '::'], { TREWS_DAEMON: 'false' }), 'daemon = false');
    assert.equal(reason(['--loop', 'list', '::']), '--loop');
  });
});

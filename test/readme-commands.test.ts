// Every trews command the README's shell blocks and examples/docs/README.md
// show runs as written in examples/ (a copy, in a git repository, so
// --changed-since has a history), and succeeds.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot, runTrews } from './helpers/index.js';

/** `trews …` lines of the ```sh blocks, without their comments. */
function readmeCommands(text: string): string[] {
  const out: string[] = [];
  for (const block of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    for (const line of block[1]!.split('\n')) {
      const command = line.replace(/\s+#.*$/, '').trim();
      if (command.startsWith('trews ')) out.push(command);
    }
  }
  return out;
}

/** `trews …` in inline code. */
function inlineCommands(text: string): string[] {
  return [...text.matchAll(/`(trews [^`]+)`/g)].map((m) => m[1]!.replace(/\s+/g, ' '));
}

/** Splits a command line as a POSIX shell would for these commands: words, and single-quoted words. */
function words(command: string): string[] {
  return [...command.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

describe('the commands the READMEs show', () => {
  const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
  const docs = readFileSync(join(repoRoot(), 'examples', 'docs', 'README.md'), 'utf8');
  const commands = [...readmeCommands(readme), ...inlineCommands(docs)];
  let dir = '';
  let root = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trews-readme-'));
    root = join(dir, 'examples');
    await cp(join(repoRoot(), 'examples'), root, { recursive: true });
    const git = (...args: string[]): void => {
      const r = spawnSync('git', args, { cwd: root, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' } });
      assert.equal(r.status, 0, r.stderr);
    };
    git('init', '-q');
    git('add', '.');
    git('commit', '-qm', 'examples');
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  });

  it('finds them', () => {
    assert.ok(commands.length >= 15, commands.join('\n'));
    for (const c of commands) assert.doesNotMatch(c, /\|/, `${c}: reads as a shell pipe`);
  });

  it('each runs as written in examples/ and succeeds', async () => {
    const failed: string[] = [];
    for (const command of commands) {
      const r = await runTrews(words(command).slice(1), { cwd: root, env: { XDG_CACHE_HOME: join(dir, 'cache') }, timeoutMs: 120_000 });
      if (r.code !== 0) failed.push(`$ ${command}\nexit ${r.code}\n${r.stdout}${r.stderr}`);
    }
    assert.deepEqual(failed, []);
  });
});

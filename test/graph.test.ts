// End-to-end: `trews graph` through the real CLI — the page written with
// --output (its JSON: nodes, declared/inferred/generated edges), served on
// 127.0.0.1 (in-process and through the daemon, which it does not hold), the
// Host check against DNS rebinding, and the errors of --from/--to.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GraphJson } from '../src/graph-page/index.js';
import { DaemonJanitor, graphOf, makeRepo, runTrews, spawnTrews, waitUntil, type SpawnedTrews, type TempRepo } from './helpers/index.js';

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

const REPO: Record<string, string> = {
  'package.json': json({ name: 'acme', private: true, workspaces: ['packages/*'] }),
  'package-lock.json': '{}\n',
  'packages/lib/package.json': json({ name: '@acme/lib', version: '1.0.0' }),
  'packages/app/package.json': json({ name: '@acme/app', version: '1.0.0', dependencies: { '@acme/lib': '*' } }),
  'tools/a.txt': 'a\n',
  'tools/BUILD': 'files(name="cfg", sources=["*.txt"])\ntarget(name="all", dependencies=[":cfg"])\n',
};

function edges(g: GraphJson): string[] {
  return g.edges.map((e) => `${g.nodes[e.from]!.address} -> ${g.nodes[e.to]!.address} (${e.kind})`);
}

function get(url: string, host?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: host !== undefined ? { host } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The versions a served page's `/events` announces, as they come. */
function openEvents(url: string): { versions: string[]; close(): void } {
  const versions: string[] = [];
  let buffered = '';
  const req = request(url, (res) => {
    res.setEncoding('utf8').on('data', (d: string) => {
      buffered += d;
      for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = /^data: (.*)$/m.exec(event);
        if (/^event: version$/m.test(event) && data) versions.push(data[1]!);
      }
    });
  });
  req.on('error', () => undefined);
  req.end();
  return { versions, close: () => req.destroy() };
}

async function urlOf(s: SpawnedTrews): Promise<string> {
  await waitUntil(() => /http:\/\/127\.0\.0\.1:\d+\/\n/.test(s.output().stdout) || s.child.exitCode !== null, 'the graph URL');
  const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(s.output().stdout);
  assert.ok(m, `no URL printed:\n${s.output().stderr}`);
  return m[0];
}

describe('trews graph', () => {
  let repo: TempRepo;
  const daemons = new DaemonJanitor();
  before(async () => {
    repo = await makeRepo(REPO);
  });
  after(async () => {
    await daemons.stopAll();
    await repo.cleanup();
  });

  it('writes one self-contained page whose graph tells declared, inferred and generated edges apart', async () => {
    const r = await runTrews(['graph', '--output=graph.html'], { cwd: repo.root });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /trews graph: wrote graph\.html \(\d+ targets, \d+ dependencies\)/);
    const html = await readFile(join(repo.root, 'graph.html'), 'utf8');
    assert.doesNotMatch(html, /<script[^>]* src=|<link /, 'nothing is loaded from elsewhere');
    const g = graphOf(html);
    assert.deepEqual(g.specs, ['::']);
    const all = edges(g);
    assert.ok(all.includes('tools:all -> tools:cfg (explicit)'), all.join('\n'));
    assert.ok(all.includes('tools:cfg -> tools/a.txt:cfg (generated)'), all.join('\n'));
    assert.ok(all.some((e) => /^packages\/app:\S+ -> packages\/lib:\S+ \(inferred\)$/.test(e)), `the package.json dependency is inferred:\n${all.join('\n')}`);
    const app = g.nodes.find((n) => n.dir === 'packages/app' && n.declaredIn === 'packages/app/package.json')!;
    assert.equal(app.package, 'packages/app');
    assert.equal(g.nodes.find((n) => n.address === 'tools:cfg')!.package, '', 'the root package.json makes the root a package, the nearest one around tools/');
  });

  it('shows the specs and what they depend on, and focuses with --from/--to', async () => {
    const r = await runTrews(['graph', '--output=some.html', '--from=tools:all', '--to=tools/a.txt:cfg', 'tools:all'], { cwd: repo.root });
    assert.equal(r.code, 0, r.stderr);
    const g = graphOf(await readFile(join(repo.root, 'some.html'), 'utf8'));
    assert.deepEqual(
      g.nodes.map((n) => [n.address, n.selected]),
      [
        ['tools/a.txt:cfg', false],
        ['tools:all', true],
        ['tools:cfg', false],
      ],
    );
    assert.deepEqual(g.focus, { from: 'tools:all', to: 'tools/a.txt:cfg' });
  });

  it('says which --from/--to is wrong, with the closest target', async () => {
    const r = await runTrews(['graph', '--output=x.html', '--from=tools:al', '--to=tools:cfg'], { cwd: repo.root });
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'error: `--from` names `tools:al`, which is not a target of the graph\n  did you mean tools:all?\n');
    const half = await runTrews(['graph', '--output=x.html', '--to=tools:cfg'], { cwd: repo.root });
    assert.equal(half.code, 2);
    assert.equal(half.stderr, 'error: `--to` needs `--from`: the focus shows the paths between two targets\n');
    const none = await runTrews(['graph', '--output=x.html', '--from=tools:cfg', '--to=tools:all'], { cwd: repo.root });
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stderr, /no dependency path leads from tools:cfg to tools:all/);
  });

  it('serves the page on 127.0.0.1 until Ctrl-C, and answers no other Host (DNS rebinding)', async () => {
    const s = spawnTrews(['graph'], { cwd: repo.root });
    const url = await urlOf(s);
    const page = await get(url);
    assert.equal(page.status, 200);
    const served = await get(`${url}graph.json`);
    assert.deepEqual(JSON.parse(served.body), graphOf(page.body));
    const port = new URL(url).port;
    const rebound = await get(url, `attacker.example:${port}`);
    assert.equal(rebound.status, 403, 'a page of another origin resolving to 127.0.0.1 gets nothing');
    assert.equal((await get(url, `localhost:${port}`)).status, 200);
    assert.equal((await get(`${url}../../etc/passwd`)).status, 404);
    s.child.kill('SIGINT');
    const r = await s.result;
    assert.equal(r.code, 0, r.stderr);
  });

  for (const daemon of [false, true]) {
    it(`follows BUILD files ${daemon ? 'through the daemon' : 'without a daemon'}: an edit sends open pages the new version, and the page and JSON served hold the new target`, async () => {
      const own = await makeRepo(REPO);
      try {
        const s = spawnTrews(['graph'], { cwd: own.root, daemon });
        if (daemon) daemons.note(own.root);
        const url = await urlOf(s);
        assert.match((await get(url)).body, /<meta name="trews-graph-version" content="1">/);
        const events = openEvents(`${url}events`);
        try {
          await waitUntil(() => events.versions.length > 0, 'the version a page connecting is told');
          assert.deepEqual(events.versions, ['1']);
          await own.write('tools/BUILD', `${REPO['tools/BUILD']}target(name="late", dependencies=[":all"])\n`);
          await waitUntil(() => events.versions.length > 1, 'an event after the edit');
          assert.deepEqual(events.versions, ['1', '2']);
        } finally {
          events.close();
        }
        const g = JSON.parse((await get(`${url}graph.json`)).body) as GraphJson;
        assert.ok(edges(g).includes('tools:late -> tools:all (explicit)'), edges(g).join('\n'));
        assert.match((await get(url)).body, /<meta name="trews-graph-version" content="2">/);
        s.child.kill('SIGINT');
        const r = await s.result;
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /it follows changes to BUILD files and package\.json \(Ctrl-C to stop\)\n/);
        assert.match(r.stderr, /trews graph: the graph changed \(\d+ targets, \d+ dependencies\); open pages reload\n/);
        assert.doesNotMatch(r.stderr, /waiting for changes|cancelled/, 'a served page is not --loop');
      } finally {
        await own.cleanup();
      }
    });
  }

  it('--open hands the page to $BROWSER, else xdg-open, and says so when there is none', async () => {
    const bin = join(repo.root, 'fake-bin');
    const opened = join(repo.root, 'opened.txt');
    await repo.write('fake-bin/xdg-open', `#!/bin/sh\nprintf 'xdg-open %s\\n' "$1" >> ${opened}\n`);
    await repo.write('fake-bin/my-browser', `#!/bin/sh\nprintf 'my-browser %s\\n' "$1" >> ${opened}\n`);
    await chmod(join(bin, 'xdg-open'), 0o755);
    await chmod(join(bin, 'my-browser'), 0o755);
    const path = `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`;
    const viaXdg = await runTrews(['graph', '--open', '--output=o.html'], { cwd: repo.root, env: { PATH: path } });
    assert.equal(viaXdg.code, 0, viaXdg.stderr);
    const viaBrowser = await runTrews(['graph', '--open', '--output=o.html'], { cwd: repo.root, env: { PATH: path, BROWSER: 'my-browser' } });
    assert.equal(viaBrowser.code, 0, viaBrowser.stderr);
    const file = `file://${join(repo.root, 'o.html')}`;
    await waitUntil(() => existsSync(opened) && readFileSync(opened, 'utf8').split('\n').length > 2, 'both openers to run');
    assert.deepEqual((await readFile(opened, 'utf8')).trim().split('\n').sort(), [`my-browser ${file}`, `xdg-open ${file}`]);
    const none = await runTrews(['graph', '--open', '--output=o.html'], { cwd: repo.root, env: { BROWSER: 'no-such-browser-here' } });
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stderr, new RegExp(`trews graph: cannot open a browser \\(no \`no-such-browser-here\`, from \\$BROWSER\\); open ${file.replace(/[.]/g, '\\.')} yourself\n`));
  });

  it('through the daemon, serves without holding the graph: a run with other inputs starts at once', async () => {
    const s = spawnTrews(['graph'], { cwd: repo.root, daemon: true });
    const url = await urlOf(s);
    daemons.note(repo.root);
    assert.equal((await get(url)).status, 200);
    // Other environment variables are other inputs: with the graph's run still open, this would fail at once.
    const other = await daemons.run(repo.root, ['list', 'tools:'], { env: { TREWS_DAEMON_TIMEOUT_WHEN_MULTIPLE_INVOCATIONS: '0', SOMETHING_ELSE: '1' } });
    assert.equal(other.code, 0, other.stderr);
    assert.equal(other.stdout, 'tools/a.txt:cfg\ntools:all\ntools:cfg\n');
    s.child.kill('SIGINT');
    const r = await s.result;
    assert.equal(r.code, 0, r.stderr);
  });
});

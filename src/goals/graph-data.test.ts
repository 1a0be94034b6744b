import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Address, ResolvedDependencies, Target } from '../targets/index.js';
import { formatAddress } from '../targets/index.js';
import { graphJson } from './graph-data.js';

function target(addr: Address, type: string, extra: Partial<Target> = {}): Target {
  return {
    address: formatAddress(addr),
    addr,
    type,
    fields: {},
    buildFile: addr.dir === '' ? 'BUILD' : `${addr.dir}/BUILD`,
    line: 1,
    col: 1,
    sources: [],
    sourcePatterns: [],
    dependencyRefs: [],
    ...extra,
  };
}

function deps(t: Target, dependencies: Address[], inferred: Address[] = []): ResolvedDependencies {
  return { address: t.address, dependencies, inferred: inferred.map(formatAddress), warnings: [] };
}

describe('graphJson', () => {
  const lib: Address = { dir: 'packages/lib', name: 'lib' };
  const app: Address = { dir: 'packages/app', name: 'app' };
  const files: Address = { dir: 'packages/app/assets', name: 'files' };
  const logo: Address = { dir: 'packages/app/assets', name: 'files', file: 'logo.svg' };
  const tool: Address = { dir: 'tools', name: 'gen' };
  const targets = [
    target(app, 'package_json', { buildFile: 'packages/app/package.json', sources: ['packages/app/package.json', 'packages/app/main.ts'] }),
    target(lib, 'package_json', { buildFile: 'packages/lib/package.json', sources: ['packages/lib/package.json'] }),
    target(files, 'files', { generated: [logo] }),
    target(logo, 'files', { generatedFrom: formatAddress(files), sources: ['packages/app/assets/logo.svg'] }),
    target(tool, 'shell_command'),
  ];
  const dependencies = [deps(targets[0]!, [files, lib, tool], [lib]), deps(targets[1]!, []), deps(targets[2]!, [logo]), deps(targets[3]!, []), deps(targets[4]!, [])];

  it('sorts nodes by address and says where each belongs', () => {
    const g = graphJson({ title: 'acme', specs: ['::'], targets, dependencies, selected: new Set([formatAddress(app)]), focus: null });
    assert.deepEqual(
      g.nodes.map((n) => [n.address, n.type, n.dir, n.package, n.selected]),
      [
        ['packages/app/assets/logo.svg:files', 'files', 'packages/app/assets', 'packages/app', false],
        ['packages/app/assets:files', 'files', 'packages/app/assets', 'packages/app', false],
        ['packages/app:app', 'package_json', 'packages/app', 'packages/app', true],
        ['packages/lib:lib', 'package_json', 'packages/lib', 'packages/lib', false],
        ['tools:gen', 'shell_command', 'tools', 'tools', false],
      ],
    );
    assert.equal(g.nodes[0]!.generatedFrom, 'packages/app/assets:files');
    assert.equal(g.nodes[2]!.declaredIn, 'packages/app/package.json');
  });

  it('tells declared, inferred and generated edges apart', () => {
    const g = graphJson({ title: 'acme', specs: ['::'], targets, dependencies, selected: new Set(), focus: null });
    const named = g.edges.map((e) => [g.nodes[e.from]!.address, g.nodes[e.to]!.address, e.kind]);
    assert.deepEqual(named, [
      ['packages/app/assets:files', 'packages/app/assets/logo.svg:files', 'generated'],
      ['packages/app:app', 'packages/app/assets:files', 'explicit'],
      ['packages/app:app', 'packages/lib:lib', 'inferred'],
      ['packages/app:app', 'tools:gen', 'explicit'],
    ]);
  });

  it('is the same whatever order the targets come in', () => {
    const a = graphJson({ title: 't', specs: ['::'], targets, dependencies, selected: new Set(), focus: null });
    const b = graphJson({ title: 't', specs: ['::'], targets: [...targets].reverse(), dependencies: [...dependencies].reverse(), selected: new Set(), focus: null });
    assert.deepEqual(a, b);
  });

  it('refuses a dependency outside the graph (the goal passes the closure)', () => {
    assert.throws(() => graphJson({ title: 't', specs: ['::'], targets: [targets[0]!], dependencies: [dependencies[0]!], selected: new Set(), focus: null }), /not among the graph's targets/);
  });
});

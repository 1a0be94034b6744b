import assert from 'node:assert/strict';
import { test } from 'node:test';
import { platformOfHost, platformProperties, PLATFORMS } from './environment-types.js';

test('a platform name becomes OSFamily and ISA properties, with the ISA spelled as servers do', () => {
  assert.deepEqual(platformProperties('linux_x86_64'), [
    { name: 'OSFamily', value: 'linux' },
    { name: 'ISA', value: 'x86-64' },
  ]);
  assert.deepEqual(platformProperties('macos_arm64'), [
    { name: 'OSFamily', value: 'macos' },
    { name: 'ISA', value: 'arm64' },
  ]);
  for (const p of PLATFORMS) assert.equal(platformProperties(p).length, 2, p);
});

test('the host platform is named from Node.js platform and arch, and is undefined for others (never guessed)', () => {
  assert.equal(platformOfHost('linux', 'x64'), 'linux_x86_64');
  assert.equal(platformOfHost('darwin', 'arm64'), 'macos_arm64');
  assert.equal(platformOfHost('win32', 'x64'), undefined);
  assert.equal(platformOfHost('linux', 'riscv64'), undefined);
});

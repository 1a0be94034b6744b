// Every name has a card, and every card greets its name: node cards_test.mjs <cards dir> <names file>
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [cardsDir, namesFile] = process.argv.slice(2);
const names = readFileSync(namesFile, 'utf8').split('\n').map((n) => n.trim()).filter(Boolean);
assert.deepEqual(readdirSync(cardsDir).sort(), names.map((n) => `${n}.txt`).sort());
for (const name of names) assert.equal(readFileSync(join(cardsDir, `${name}.txt`), 'utf8'), `Hello, ${name}!\n`);
console.log(`${names.length} cards ok`);

// Writes one card per name: node make-cards.mjs <greeting file> <names file> <output dir>
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [greetingFile, namesFile, outDir] = process.argv.slice(2);
const greeting = readFileSync(greetingFile, 'utf8').trim();
const names = readFileSync(namesFile, 'utf8').split('\n').map((n) => n.trim()).filter(Boolean);
mkdirSync(outDir, { recursive: true });
for (const name of names) writeFileSync(join(outDir, `${name}.txt`), `${greeting}, ${name}!\n`);
console.log(`wrote ${names.length} cards`);

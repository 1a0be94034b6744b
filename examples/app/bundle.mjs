// Bundles the app's configuration with the greeting cards:
//   node bundle.mjs <config.json> <cards dir> <output.json>
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

const [configFile, cardsDir, out] = process.argv.slice(2);
const config = JSON.parse(readFileSync(configFile, 'utf8'));
const cards = {};
for (const f of readdirSync(cardsDir).sort()) cards[basename(f, '.txt')] = readFileSync(join(cardsDir, f), 'utf8').trim();
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ ...config, cards }, null, 2)}\n`);

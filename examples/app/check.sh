#!/usr/bin/env bash
# Checks the bundle: bash check.sh <bundle.json>
set -euo pipefail
bundle=$1
cat "$bundle"
node -e '
  const b = require(process.argv[1]);
  const want = { Ada: "Hello, Ada!", Grace: "Hello, Grace!", Linus: "Hello, Linus!" };
  for (const [name, card] of Object.entries(want)) {
    if (b.cards[name] !== card) { console.error(`card of ${name}: ${b.cards[name]}`); process.exit(1); }
  }
  if (b.greeting !== "hello.txt") { console.error("config missing from the bundle"); process.exit(1); }
' "$PWD/$bundle"
echo "bundle ok"

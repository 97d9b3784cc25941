#!/bin/sh
# A short, real scenario on a demo store, from the committed sample data.
# Usage: demo.sh BIN_DIR STORE_DIR   (run again and again: same result)
set -eu
bin="$1"
ledger="$bin/ledger"
export LEDGER_DIR="$2"
here=$(dirname "$0")
rm -rf "$LEDGER_DIR"
say() { printf '\n$ %s\n' "$*"; }
run() { say "ledger $*"; "$ledger" "$@"; }

echo "demo store: $LEDGER_DIR"
run import "$here/story.ndjson"
run balance
run history bob
run balance --as-of 2024-03-05
say "ledger withdraw bob 100.00   # would go below the 50.00 overdraft"
"$ledger" withdraw bob 100.00 || echo "(exit $?: rejected, nothing appended)"
say "ledger import story.ndjson   # again: every line is recognised, nothing appended"
"$ledger" import "$here/story.ndjson"
say "ledger --json balance | jq ..."
"$ledger" --json balance | jq -r '.accounts[] | "\(.account)\t\(.balance) \(.currency)"' 2>/dev/null || "$ledger" --json balance
run verify

say "ledger import generated-5k.ndjson   # into a second store, checked against the generator's own balances"
big="$LEDGER_DIR-5k"
rm -rf "$big"
"$ledger" --dir "$big" import "$here/generated-5k.ndjson"
if command -v jq >/dev/null; then
  "$ledger" --dir "$big" --json balance | jq -c '[.accounts[] | {(.account): .balance}] | add' > "$big.actual"
  jq -c '.final.balances' "$here/generated-5k.expected.json" > "$big.expected"
  if cmp -s "$big.actual" "$big.expected"; then echo "final balances of 50 accounts: as expected"; else echo "final balances DIFFER"; exit 1; fi
  rm -f "$big.actual" "$big.expected"
fi
"$ledger" --dir "$big" info | head -3

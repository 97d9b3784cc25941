#!/bin/sh
# A short, real scenario on a demo store: accounts, money moving, a rejection,
# an idempotent retry, then balances, a history and a verified hash chain.
# Usage: demo.sh LEDGER_BINARY STORE_DIR   (run again and again: same result)
set -eu
ledger="$1"
export LEDGER_DIR="$2"
rm -rf "$LEDGER_DIR"
say() { printf '\n$ %s\n' "$*"; }
run() { say "ledger $*"; "$ledger" "$@"; }

echo "demo store: $LEDGER_DIR"
run open alice --at 2024-03-01T09:00:00Z
run open bob --overdraft 50.00 --at 2024-03-01T09:05:00Z
run open yen --currency JPY --scale 0 --at 2024-03-01T09:10:00Z
run deposit alice 1200.00 --memo salary --id pay-2024-03 --at 2024-03-01T10:00:00Z
run transfer alice bob 350.25 --memo rent --at 2024-03-02T08:00:00Z
run withdraw bob 380.00 --memo groceries --at 2024-03-03T18:30:00Z
run deposit yen 15000 --at 2024-03-04T12:00:00Z
say "ledger withdraw bob 100.00   # would go below the 50.00 overdraft"
"$ledger" withdraw bob 100.00 --at 2024-03-05T00:00:00Z || echo "(exit $?: rejected, nothing appended)"
say "ledger deposit alice 1200.00 --id pay-2024-03   # a retried request"
"$ledger" deposit alice 1200.00 --memo salary --id pay-2024-03
run balance
run history alice
say "ledger --json balance | jq ..."
"$ledger" --json balance | jq -r '.accounts[] | "\(.account)\t\(.balance) \(.currency)"' 2>/dev/null \
  || "$ledger" --json balance
run verify

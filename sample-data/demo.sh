#!/bin/sh
# A short, real scenario on a demo store; prints what the store holds.
# Usage: demo.sh LEDGER_BINARY STORE_DIR   (run again and again: same result)
set -eu
ledger="$1"
store="$2"
rm -rf "$store"
mkdir -p "$store"
echo "demo store: $store"
"$ledger" --dir "$store" info
"$ledger" --dir "$store" verify

#!/usr/bin/env bash
# SRS on this machine with the console, on the embedded default (SQLite, in-process bus, data in
# ./data): builds the console (scripts/console.sh) and a release `srs`, then runs `srs serve`
# on http://127.0.0.1:8080 with any arguments given (e.g. --listen 0.0.0.0:8080). Create the
# first admin with `target/release/srs user add --username admin --role admin`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/console.sh build
cargo build --release --locked --bin srs
exec target/release/srs serve "$@"

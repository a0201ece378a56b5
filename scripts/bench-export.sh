#!/usr/bin/env bash
# Export benchmark, printed as figures and ratios against baselines in the same run: 10 million
# realistic samples (several sensor types, participants and days) exported from the SQLite store
# to Parquet; our Parquet writer alone and pyarrow's write_table on the same rows with the same
# codec and row-group size; output bytes and the export's peak RSS.
# SRS_BENCH_SAMPLES changes the size. Needs pyarrow, which it installs into .venv if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/setup.sh
ensure_venv
cargo bench -p srs-exporter --bench export

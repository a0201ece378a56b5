#!/usr/bin/env bash
# Store and bus benchmarks, printed as figures and ratios against a baseline in the same run:
#   1. 5 million realistic samples in batches of 1,000: SqliteStore vs a raw rusqlite loop
#      (same schema and pragmas);
#   2. confirmed publishes/s to RabbitMQ: batches of events vs one confirm per message.
# SRS_BENCH_SAMPLES and SRS_BENCH_EVENTS change the sizes; SRS_BENCH_AMQP_URL the broker.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p srs-common --bench store_insert
cargo bench -p srs-common --bench bus_publish

#!/usr/bin/env bash
# Store and bus benchmarks, printed as figures and ratios against a baseline in the same run:
#   1. 5 million realistic samples in batches of 1,000: SqliteStore vs a raw rusqlite loop
#      (same schema and pragmas);
#   2. 500,000 of them in batches of 20, about what ingest commits at a time when every
#      request carries one sample: the cost of a commit rather than of a sample;
#   3. confirmed publishes/s to RabbitMQ: batches of events vs one confirm per message.
# SRS_BENCH_SAMPLES and SRS_BENCH_EVENTS change the sizes (SRS_BENCH_BATCH the batch of run 1);
# SRS_BENCH_AMQP_URL the broker.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p srs-common --bench store_insert
SRS_BENCH_BATCH=20 SRS_BENCH_SAMPLES=500000 SRS_BENCH_MONGODB_URI="" cargo bench -p srs-common --bench store_insert
cargo bench -p srs-common --bench bus_publish

#!/usr/bin/env bash
# Experiments service benchmark, printed as figures and ratios against baselines in one run:
#   1. logins/s over HTTP vs raw argon2id verifications/s (logins should be argon2-bound);
#   2. authenticated GET /api/v1/experiments/{id} req/s vs a bare actix-web endpoint.
# SRS_BENCH_SECS sets each phase's length, SRS_BENCH_CONNECTIONS the GET clients.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p srs-experiments --bench auth

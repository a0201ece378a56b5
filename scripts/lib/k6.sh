# Sourced by the benchmarks that run the lab's k6 scenario (bench-ingest.sh, bench-gateway.sh).

# k6_summary FILE URL VUS DURATION: runs tests/load/srs-scenario.js against URL and writes its
# summary (median and p99 latency, requests, failures) as JSON to FILE. The scenario's own
# thresholds may fail: the benchmark prints the figures and judges them against its baseline.
k6_summary() {
    k6 run -q --no-color --summary-trend-stats=med,p\(99\) --summary-export="$1" \
        -e SRS_URL="$2" -e SRS_VUS="$3" -e SRS_DURATION="$4" tests/load/srs-scenario.js >/dev/null 2>&1 || true
}

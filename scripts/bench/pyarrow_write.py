#!/usr/bin/env python3
"""The pyarrow baseline of scripts/bench-export.sh: reads every Parquet file of an export into
memory (not timed), then times pyarrow writing the same rows with the same codec (zstd) and
row-group size (65,536), twice: with pyarrow's default encodings (a dictionary for every
column), and with the encodings SRS uses (timestamps delta-encoded, no dictionary for them).
Prints {"rows", "default": {"seconds", "bytes"}, "same_encodings": {"seconds", "bytes"}} as JSON.

    pyarrow_write.py EXPORT_DIR OUT_DIR
"""
import json
import pathlib
import sys
import time

import pyarrow.parquet as pq

TIMESTAMPS = ["ts", "received_at"]


def timed_write(table, target, **options):
    started = time.perf_counter()
    pq.write_table(table, target, compression="zstd", row_group_size=65_536, **options)
    seconds = time.perf_counter() - started
    size = target.stat().st_size
    target.unlink()
    return seconds, size


def main(export_dir, out_dir):
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = 0
    totals = {"default": [0.0, 0], "same_encodings": [0.0, 0]}
    for number, path in enumerate(sorted(pathlib.Path(export_dir).rglob("*.parquet"))):
        table = pq.read_table(path)
        rows += table.num_rows
        target = out / f"{number}.parquet"
        dictionary = [name for name in table.column_names if name not in TIMESTAMPS]
        runs = {
            "default": {},
            "same_encodings": {
                "use_dictionary": dictionary,
                "column_encoding": {name: "DELTA_BINARY_PACKED" for name in TIMESTAMPS},
            },
        }
        for name, options in runs.items():
            seconds, size = timed_write(table, target, **options)
            totals[name][0] += seconds
            totals[name][1] += size
    report = {"rows": rows}
    report.update({name: {"seconds": seconds, "bytes": size} for name, (seconds, size) in totals.items()})
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

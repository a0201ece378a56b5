#!/usr/bin/env python3
"""The pyarrow baseline of scripts/bench-export.sh: reads every Parquet file of an export into
memory (not timed), then times pyarrow writing the same rows with the same codec (zstd) and
row-group size (65,536). Prints {"rows", "seconds", "bytes"} as JSON.

    pyarrow_write.py EXPORT_DIR OUT_DIR
"""
import json
import pathlib
import sys
import time

import pyarrow.parquet as pq


def main(export_dir, out_dir):
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows, seconds, size = 0, 0.0, 0
    for number, path in enumerate(sorted(pathlib.Path(export_dir).rglob("*.parquet"))):
        table = pq.read_table(path)
        target = out / f"{number}.parquet"
        started = time.perf_counter()
        pq.write_table(table, target, compression="zstd", row_group_size=65_536)
        seconds += time.perf_counter() - started
        rows += table.num_rows
        size += target.stat().st_size
        target.unlink()
    print(json.dumps({"rows": rows, "seconds": seconds, "bytes": size}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

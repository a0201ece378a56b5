#!/usr/bin/env python3
"""Checks an SRS export directory with pyarrow, as an independent reader:

- manifest.json lists every file with the right size and SHA-256, and nothing else is there;
- every Parquet file has the contract's columns and types (ts and received_at timestamp[ns, UTC],
  sensor_id, recording_id, task_id, sample_id strings, then the sensor type's fields as
  bool/int64/double/string), zstd, rows sorted by ts, and the row count the manifest gives.

    scripts/check_export.py EXPORT_DIR

Prints {"rows": {"<participant>/<date>/<type>": rows, ...}} and exits 0, or names the first
problem and exits 1.
"""
import hashlib
import json
import pathlib
import sys

import pyarrow as pa
import pyarrow.parquet as pq

FIELD_TYPES = {"bool": pa.bool_(), "i64": pa.int64(), "f64": pa.float64(), "string": pa.string()}
FIXED = [
    ("ts", pa.timestamp("ns", tz="UTC")),
    ("received_at", pa.timestamp("ns", tz="UTC")),
    ("sensor_id", pa.string()),
    ("recording_id", pa.string()),
    ("task_id", pa.string()),
    ("sample_id", pa.string()),
]


def fail(message):
    print(f"check_export: {message}", file=sys.stderr)
    sys.exit(1)


def main(directory):
    root = pathlib.Path(directory)
    manifest = json.loads((root / "manifest.json").read_text())
    experiment = json.loads((root / "experiment.json").read_text())
    types = {t["name"]: t for t in experiment["sensor_types"]}
    listed = {entry["path"]: entry for entry in manifest["files"]}
    present = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} - {"manifest.json"}
    if present != set(listed):
        fail(f"files on disk {sorted(present)} differ from the manifest {sorted(listed)}")
    rows, groups = {}, {}
    for path, entry in listed.items():
        data = (root / path).read_bytes()
        if len(data) != entry["bytes"] or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            fail(f"{path}: size or sha256 differs from the manifest")
        if not path.endswith(".parquet"):
            continue
        parquet = pq.ParquetFile(root / path)
        for group in range(parquet.metadata.num_row_groups):
            for column in range(parquet.metadata.num_columns):
                codec = parquet.metadata.row_group(group).column(column).compression
                if codec != "ZSTD":
                    fail(f"{path}: column {column} is {codec}, not ZSTD")
        table = parquet.read()
        sensor_type = path.rsplit("/", 1)[-1].removesuffix(".parquet")
        expected = FIXED + [(f["name"], FIELD_TYPES[f["type"]]) for f in types[sensor_type]["fields"]]
        actual = [(field.name, field.type) for field in table.schema]
        if actual != expected:
            fail(f"{path}: columns {actual} are not {expected}")
        ts = table.column("ts").cast(pa.int64()).to_pylist()
        if ts != sorted(ts):
            fail(f"{path}: rows are not sorted by ts")
        if table.num_rows != entry["rows"]:
            fail(f"{path}: {table.num_rows} rows, the manifest says {entry['rows']}")
        rows[path.removesuffix(".parquet")] = table.num_rows
        groups[path] = parquet.metadata.num_row_groups
    print(json.dumps({"rows": rows, "row_groups": groups}))


if __name__ == "__main__":
    main(sys.argv[1])

"""NAS-Bench-201 benchmark lookup."""

from fewshotnas.bench.nb201 import BENCH_DATASETS, NB201Table, convert_csv, default_table_path, load_table

__all__ = ["BENCH_DATASETS", "NB201Table", "convert_csv", "default_table_path", "load_table"]

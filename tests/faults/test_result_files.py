"""Flipped bytes in result Parquet files: every kind the workflow writes, made with the
library's own code and writer, is read back either unchanged or with an error that names the
file and the fix; never with other values, genotypes or metadata."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fewshotnas.analysis.selection import select_leaves
from fewshotnas.analysis.tables import best_over_leaves
from fewshotnas.bench.lookup import lookup_logs
from fewshotnas.data import prepare_data
from fewshotnas.io import ResultFileError, read_parquet_checked, read_parquet_metadata, write_parquet_atomic
from fewshotnas.search import get_algorithm, run_search
from fewshotnas.space import OpMask
from fewshotnas.split import SplitConfig, root_node, split_level, tree_to_frame
from fewshotnas.split.distance import split_distance_table
from fewshotnas.train.loop import train_supernet

pytestmark = pytest.mark.fault

NETWORK = {"channels": 2, "cells_per_stage": 1}
SEARCH = {"epochs": 2, "batch_size": 16, "lr": 0.05, "lr_min": 0.001, "arch_lr": 0.01, "eval_batch_size": 64}
POSITIONS = 160  # flipped positions per file, spread over the whole file (data pages, page headers, footer)


@pytest.fixture(scope="module")
def results(fmnist_root, nb201, tmp_path_factory) -> dict[str, tuple[pd.DataFrame, dict]]:
    """One small frame of every kind of result Parquet the workflow writes, with its metadata."""
    tmp = tmp_path_factory.mktemp("results")
    data = prepare_data("fashion_mnist", fmnist_root, subset=64, test_subset=8, image_size=8)
    train_log = train_supernet(data, network=NETWORK, train={"epochs": 1, "batch_size": 16}, seed=0,
                               out_checkpoint=tmp / "s.pt", resume_path=tmp / "s.resume.pt", quiet=True)
    level1 = split_level(tree_to_frame([root_node()]), 1, "random", SplitConfig(depth=2), seed=0)
    level2 = split_level(level1.tree, 2, "random", SplitConfig(depth=2), seed=0)
    masks = [OpMask.full().restrict(0, [2, 3]), OpMask.full().restrict(0, [0, 1, 4])]
    logs = {leaf: run_search(get_algorithm("darts1"), data, mask=mask, network=NETWORK, search=SEARCH, seed=0,
                             out_final=tmp / f"f{leaf}.pt", resume_path=tmp / f"r{leaf}.pt", quiet=True)
            for leaf, mask in enumerate(masks)}
    lookup = lookup_logs(logs, nb201, dataset="fashion_mnist", bench_dataset="cifar10", method="random",
                         algorithm="darts1", seed=0, split_seed=0, masks={i: m.to_bits() for i, m in enumerate(masks)})
    trees = {("random", 0): level2.tree, ("random", 1): split_level(
        split_level(tree_to_frame([root_node()]), 1, "random", SplitConfig(depth=2), seed=1).tree, 2, "random",
        SplitConfig(depth=2), seed=1).tree}
    return {
        "train_log": (train_log, {"rule": "train_supernet"}),
        "scores": (level1.scores, {"rule": "split_level", "level": 1}),
        "tree": (level2.tree, {"rule": "split_level", "level": 2}),
        "search_log": (logs[0], {"rule": "search_leaf", "mask": masks[0].to_bits()}),
        "lookup": (lookup, {"rule": "benchmark_lookup"}),
        "table": (best_over_leaves(lookup), {"rule": "tables"}),
        "selection": (select_leaves(lookup, [0.5, 1.0]), {"rule": "selection"}),
        "split_distance": (split_distance_table(trees), {"rule": "split_distance"}),
    }


def flipped_reads(path: Path, positions: int) -> tuple[int, int, list[int]]:
    """Flip each of ``positions`` bytes of ``path`` in turn (xor 0xFF); count the reads that
    raised a ResultFileError naming the file, the ones that gave the original frame and metadata
    back, and list the positions that gave anything else."""
    original = path.read_bytes()
    frame, meta = read_parquet_checked(path), read_parquet_metadata(path)
    step = max(1, len(original) // positions)
    errors = same = 0
    silent = []
    for pos in range(0, len(original), step):
        damaged = bytearray(original)
        damaged[pos] ^= 0xFF
        path.write_bytes(bytes(damaged))
        try:
            got, got_meta = read_parquet_checked(path), read_parquet_metadata(path)
        except ResultFileError as err:
            assert str(path) in str(err) and "delete it and rerun" in str(err), err
            errors += 1
            continue
        try:
            pd.testing.assert_frame_equal(got, frame)
            assert got_meta == meta
            same += 1
        except AssertionError:
            silent.append(pos)
    path.write_bytes(original)
    return errors, same, silent


KINDS = ["train_log", "scores", "tree", "search_log", "lookup", "table", "selection", "split_distance"]


@pytest.mark.parametrize("kind", KINDS)
def test_flipped_byte_in_a_result_file_is_an_error_never_other_values(results, tmp_path, kind):
    frame, meta = results[kind]
    assert len(frame) > 0
    path = tmp_path / f"{kind}.parquet"
    write_parquet_atomic(frame, path, meta)
    errors, same, silent = flipped_reads(path, POSITIONS)
    assert silent == [], f"{kind}: {len(silent)} flips changed the content silently, at bytes {silent[:10]}"
    assert errors > same  # most bytes matter; the rest (statistics, padding) change nothing that is read


def test_flipped_byte_in_a_data_page_names_the_checksum(tmp_path):
    import pyarrow.parquet as pq

    path = tmp_path / "log.parquet"
    write_parquet_atomic(pd.DataFrame({"val_acc": [float(i) for i in range(200)]}), path)
    column = pq.ParquetFile(path).metadata.row_group(0).column(0)
    end = (column.dictionary_page_offset or column.data_page_offset) + column.total_compressed_size
    raw = bytearray(path.read_bytes())
    raw[end - 3] ^= 0x01  # inside the column chunk's last page, past its header
    path.write_bytes(bytes(raw))
    with pytest.raises(ResultFileError, match=r"log\.parquet is corrupt: a data page does not match its checksum; "
                                              r"delete it and rerun"):
        read_parquet_checked(path)


def test_every_byte_of_a_small_result_file(tmp_path):
    """All positions, footer included: a damaged footer that drops the metadata block (and with
    it the digest) is an error too, not a file without provenance."""
    path = tmp_path / "log.parquet"
    frame = pd.DataFrame({"epoch": [1, 2, 3], "val_acc": [10.0, 20.5, 30.25], "genotype": ["a", "b", "c"],
                          "alphas": [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], "disconnected": [False, False, True]})
    write_parquet_atomic(frame, path, {"rule": "search_leaf", "mask": "111111"})
    errors, same, silent = flipped_reads(path, 10**9)
    assert silent == [] and errors + same == path.stat().st_size


def test_parquet_without_a_digest_is_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "tree.parquet"
    pq.write_table(pa.table({"leaf": [0, 1]}), path)
    with pytest.raises(ResultFileError, match=r"tree\.parquet carries no footer digest: .*delete it and rerun"):
        read_parquet_checked(path)

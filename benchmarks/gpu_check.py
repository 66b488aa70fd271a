"""GPU check (CUDA; a CPU dry run with --quick): every algorithm's step, single and fused
(8 leaves), and every metric on CUDA (bf16 autocast), with torch's sync debug mode set to
"error" around the training steps (a host sync inside a step raises), plus step times at the
default and the paper's network size.

    python benchmarks/gpu_check.py [--out DIR]

Writes a JSON summary to DIR/gpu_check.json when --out is given. Figures, not tests.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import make_fashion_mnist  # noqa: E402
from fused_speed import tree_leaves  # noqa: E402

from fewshotnas.catalog import CATALOG  # noqa: E402
from fewshotnas.data import BatchStream, prepare_data  # noqa: E402
from fewshotnas.metrics import MetricContext, get_metric, metric_names  # noqa: E402
from fewshotnas.search import ALGORITHMS, run_search, search_leaves  # noqa: E402
from fewshotnas.search.common import SearchConfig  # noqa: E402
from fewshotnas.search.engine import stack_leaves  # noqa: E402
from fewshotnas.space import OpMask, build_network  # noqa: E402
from fewshotnas.train.loop import train_epoch  # noqa: E402

LEAF = OpMask.full().restrict(0, [2, 3]).restrict(1, [0, 1, 4]).restrict(2, [3])


def batches(data, n, size, dev):
    stream = BatchStream(data.weight, size, data.mean, data.std, device=dev, generator=torch.Generator().manual_seed(0))
    out = []
    for b in stream:
        out.append(b)
        if len(out) == n:
            return out
    return out


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def timed_steps(algo, batch_list, dev, sync_check: bool) -> tuple[float, str]:
    """Mean seconds per step over the batches after 3 warm-ups; 'ok' or the sync error."""
    for i in range(3):
        (xw, yw), (xa, ya) = batch_list[i], batch_list[i + 1]
        algo.step(xw, yw, xa, ya)
    sync(dev)
    status = "ok"
    t0 = time.perf_counter()
    n = 0
    if sync_check and dev.type == "cuda":
        torch.cuda.set_sync_debug_mode("error")
    try:
        for i in range(3, len(batch_list) - 1):
            (xw, yw), (xa, ya) = batch_list[i], batch_list[i + 1]
            algo.step(xw, yw, xa, ya)
            n += 1
    except RuntimeError as err:
        status = f"sync: {str(err).splitlines()[0][:200]}"
    finally:
        if dev.type == "cuda":
            torch.cuda.set_sync_debug_mode("default")
    sync(dev)
    return (time.perf_counter() - t0) / max(n, 1), status


def finite_state(algo) -> bool:
    """Alphas (when the algorithm has them) and weights are finite after the timed steps."""
    tensors = [algo.flat.flat] + ([algo.alphas] if algo.alphas is not None else [])
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=None)
    parser.add_argument("--quick", action="store_true", help="default size only (a CPU dry run)")
    args = parser.parse_args()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if dev.type == "cuda" else "cpu"
    print(torch.__version__, name, flush=True)
    tmp = Path(tempfile.mkdtemp())
    root = make_fashion_mnist(tmp / "fmnist", n_train=6000, n_test=500)
    summary: dict = {"torch": torch.__version__, "device": name}
    sizes = (("default C=8 N=1 12px", 8, 1, 12), ("paper C=16 N=5 32px", 16, 5, 32))
    for label, channels, cells, size in sizes[:1] if args.quick else sizes:
        data = prepare_data("fashion_mnist", root, subset=6000, test_subset=500, image_size=size)
        batch_list = batches(data, 24, 64, dev)
        res = {}
        # base supernet: one epoch of the real loop, then a sync-checked step
        torch.manual_seed(0)
        net = build_network(None, channels=channels, cells_per_stage=cells, num_classes=10, in_channels=1).to(
            dev, memory_format=torch.channels_last)
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        stream = BatchStream(data.train, 128, data.mean, data.std, device=dev, augment=True,
                             generator=torch.Generator().manual_seed(0))
        t0 = time.perf_counter()
        loss, acc = train_epoch(net, stream, opt, dev, grad_clip=5.0, quiet=True)
        sync(dev)
        res["supernet_epoch"] = dict(seconds=round(time.perf_counter() - t0, 3), loss=loss, acc=acc,
                                     steps=len(stream))
        def network(mask, channels=channels, cells=cells):
            return build_network(mask, channels=channels, cells_per_stage=cells, num_classes=10,
                                 in_channels=1).to(memory_format=torch.channels_last)

        cfg = SearchConfig(epochs=4, batch_size=64)
        for name in ALGORITHMS:  # single-path steps read their sampled ops back once: no sync check
            sync_check = not CATALOG[name].samples_paths
            for mask_label, mask in (("full", OpMask.full()), ("leaf", LEAF)):
                algo = stack_leaves(name, [mask], network, cfg, 0, dev)
                algo.begin_epoch(1, 4)
                sec, status = timed_steps(algo, batch_list, dev, sync_check=sync_check)
                res[f"{name}_{mask_label}"] = dict(ms_per_step=round(1000 * sec, 2), sync=status,
                                                   finite=finite_state(algo))
                print(label, name, mask_label, res[f"{name}_{mask_label}"], flush=True)
            # fused: the 8 leaves of a depth-3 tree as one program, sync-checked like the single steps
            fused = stack_leaves(name, tree_leaves(8), network, cfg, 0, dev)
            fused.begin_epoch(1, 4)
            sec, status = timed_steps(fused, batch_list, dev, sync_check=sync_check)
            res[f"fused8_{name}"] = dict(ms_per_leaf_step=round(1000 * sec / 8, 2), sync=status,
                                         finite=finite_state(fused))
            print(label, "fused x8", name, res[f"fused8_{name}"], flush=True)
        # metrics on the whole supernet, one candidate each (edge 0, conv3x3 kept)
        torch.manual_seed(0)
        net = build_network(None, channels=channels, cells_per_stage=cells, num_classes=10, in_channels=1).to(
            dev, memory_format=torch.channels_last).train()
        ctx = MetricContext(batch_list[:2], 0, dev, {})
        for metric in metric_names():
            t0 = time.perf_counter()
            try:
                value = get_metric(metric).fn(net, OpMask.full().restrict(0, [3]), ctx)
                sync(dev)
                ok = bool(torch.isfinite(torch.as_tensor(value if not isinstance(value, list) else value[0])).all())
                res[f"metric_{metric}"] = dict(seconds=round(time.perf_counter() - t0, 4), finite=ok)
            except Exception as err:  # report, keep going
                res[f"metric_{metric}"] = dict(error=repr(err)[:300])
            print(label, metric, res[f"metric_{metric}"], flush=True)
        summary[label] = res
    # the real search loop on CUDA: two epochs per algorithm on a leaf, resume files and all
    data = prepare_data("fashion_mnist", root, subset=2000, test_subset=200, image_size=16)
    for algo_name in ALGORITHMS:
        t0 = time.perf_counter()
        log = run_search(algo_name, data, mask=LEAF, network={"channels": 8, "cells_per_stage": 1},
                         search={"epochs": 2, "batch_size": 64, "arch_lr": 0.003, "rsps_samples": 20}, seed=0,
                         out_final=tmp / f"{algo_name}.pt", resume_path=tmp / f"{algo_name}.resume.pt", device=dev.type,
                         quiet=True)
        summary[f"search_{algo_name}"] = dict(seconds=round(time.perf_counter() - t0, 2),
                                              val_acc=log["val_acc"].tolist(), genotype=log["genotype"].iloc[-1])
        print(algo_name, summary[f"search_{algo_name}"], flush=True)
    for algo_name in ALGORITHMS:
        t0 = time.perf_counter()
        logs = search_leaves(algo_name, data, masks=tree_leaves(8), network={"channels": 8, "cells_per_stage": 1},
                             search={"epochs": 2, "batch_size": 64, "arch_lr": 0.003, "rsps_samples": 20}, seed=0,
                             out_finals=[tmp / f"f{algo_name}{k}.pt" for k in range(8)],
                             resume_path=tmp / f"f{algo_name}.resume.pt", device=dev.type, quiet=True)
        summary[f"fused_search_{algo_name}"] = dict(seconds=round(time.perf_counter() - t0, 2),
                                                    val_acc=[round(x["val_acc"].iloc[-1], 2) for x in logs])
        print("fused", algo_name, summary[f"fused_search_{algo_name}"], flush=True)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "gpu_check.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

"""Print the speed of the hot loops: a supernet training step, a DARTS-1st step (arch +
weights) on the full space and on a depth-3 leaf, in the engine (one leaf) against the
per-leaf class it replaced (tests/reference), interleaved; a step of each of the eight
algorithms on the leaf; evaluation throughput, and the CPU pooling kernel against torch's own.

    .venv/bin/python benchmarks/step_speed.py [--channels 8 --cells 1 --size 12 --batch 64 --threads 1]

Figures, not tests: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from fewshotnas.data import BatchStream, ImageSet
from fewshotnas.search import ALGORITHMS
from fewshotnas.search.common import SearchConfig
from fewshotnas.search.engine import stack_leaves
from fewshotnas.space import OpMask, build_network
from fewshotnas.space.supernet import avg_pool_3x3
from fewshotnas.train.device import resolve_device
from fewshotnas.train.loop import evaluate


def timed(fn, repeats: int, device: torch.device) -> float:
    """Mean seconds per call after 3 warm-up calls."""
    for _ in range(3):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--cells", type=int, default=1)
    parser.add_argument("--size", type=int, default=12)
    parser.add_argument("--in-channels", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    torch.manual_seed(0)
    shape = (args.batch, args.in_channels, args.size, args.size)
    x = torch.randn(shape, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (args.batch,), device=device)
    print(f"device {device}, threads {args.threads}, torch {torch.__version__}; C={args.channels} N={args.cells} "
          f"input {shape}")

    net = build_network(None, channels=args.channels, cells_per_stage=args.cells,
                        in_channels=args.in_channels).to(device, memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def supernet_step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()

    t = timed(supernet_step, args.repeats, device)
    print(f"supernet step (uniform mixture):  {t * 1e3:7.1f} ms  {args.batch / t:8.0f} img/s")

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from reference.darts import Darts1st as ReferenceDarts1st  # the per-leaf class the engine replaced

    def network(mask):
        return build_network(mask, channels=args.channels, cells_per_stage=args.cells,
                             in_channels=args.in_channels).to(device, memory_format=torch.channels_last)

    leaf = OpMask.full().restrict(0, [1, 4]).restrict(1, [2, 3]).restrict(2, [0, 3])
    for name, mask in (("full space", OpMask.full()), ("depth-3 leaf (1,000 archs)", leaf)):
        torch.manual_seed(0)
        reference = ReferenceDarts1st(network(mask), mask, SearchConfig(), device)
        engine = stack_leaves("darts1", [mask], network, SearchConfig(), 0, device)
        ref_t = eng_t = 0.0
        for _ in range(3):  # interleaved rounds: load changes hit both alike
            ref_t += timed(lambda r=reference: r.step(x, y, x, y), args.repeats, device) / 3
            eng_t += timed(lambda e=engine: e.step(x, y, x, y), args.repeats, device) / 3
        print(f"DARTS-1st step, {name:27s} engine {eng_t * 1e3:7.1f} ms, per-leaf class {ref_t * 1e3:7.1f} ms "
              f"(engine/class {eng_t / ref_t:.2f})")
    for algorithm in ALGORITHMS:
        searcher = stack_leaves(algorithm, [leaf], network, SearchConfig(epochs=4), 0, device)
        searcher.begin_epoch(0, 4)
        t = timed(lambda a=searcher: a.step(x, y, x, y), args.repeats, device)
        print(f"{algorithm:12s} step, depth-3 leaf          {t * 1e3:7.1f} ms")
    net = network(leaf)

    images = ImageSet(torch.randint(0, 256, (2048, *shape[1:]), dtype=torch.uint8), torch.randint(0, 10, (2048,)))
    stream = BatchStream(images, 512, (0.5,) * shape[1], (0.25,) * shape[1], device=device, shuffle=False,
                         drop_last=False)
    net.eval()
    t = timed(lambda: evaluate(net, stream, device), 3, device)
    print(f"evaluation:                       {2048 / t:8.0f} img/s")

    if device.type == "cpu":
        feat = torch.randn(args.batch, args.channels, args.size, args.size, requires_grad=True)
        native = timed(lambda: F.avg_pool2d(feat, 3, 1, 1, count_include_pad=False).sum().backward(), 50, device)
        ours = timed(lambda: avg_pool_3x3(feat).sum().backward(), 50, device)
        print(f"avg_pool_3x3 fwd+bwd: torch {native * 1e3:.2f} ms, ours {ours * 1e3:.2f} ms "
              f"({native / ours:.1f}x)")


if __name__ == "__main__":
    main()

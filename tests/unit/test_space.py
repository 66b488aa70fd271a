"""Genotypes, benchmark strings, masks and the supernet."""

from __future__ import annotations

import itertools

import pytest
import torch

from fewshotnas.space import (
    NUM_ARCHS,
    OPS,
    GenotypeError,
    OpMask,
    all_genotypes,
    build_network,
    count_flops,
    count_parameters,
    genotype_from_str,
    genotype_to_str,
)
from fewshotnas.space import supernet as supernet_mod

BEST_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_string_round_trip_all_genotypes():
    seen = set()
    for g in all_genotypes():
        s = genotype_to_str(g)
        assert genotype_from_str(s) == g
        seen.add(s)
    assert len(seen) == NUM_ARCHS


def test_index_round_trip_all_architectures(nb201):
    for index in range(NUM_ARCHS):
        s = nb201.arch_str(index)
        g = genotype_from_str(s)
        assert genotype_to_str(g) == s
        assert nb201.index_of(g) == index
        assert nb201.index_of(s) == index
        assert nb201.genotype(index) == g


def test_string_format_matches_benchmark():
    assert genotype_to_str((3, 3, 3, 1, 3, 3)) == BEST_C10


@pytest.mark.parametrize("bad", ["", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                                 "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|",
                                 "|none~0|+|none~0|+|none~0|none~1|none~2|", "|none~0|+|none~0|none~1|"])
def test_bad_strings_name_the_problem(bad):
    with pytest.raises(GenotypeError):
        genotype_from_str(bad)


def test_mask_basics():
    full = OpMask.full()
    assert full.num_archs == NUM_ARCHS
    sub = full.restrict(0, [1, 3]).restrict(2, [4])
    assert sub.num_archs == 2 * 5**4
    assert len(list(sub.genotypes())) == sub.num_archs
    assert all(sub.contains(g) for g in sub.genotypes())
    assert not sub.contains((0, 0, 0, 0, 0, 0))
    assert OpMask.from_bits(sub.to_bits()) == sub
    assert OpMask.from_array(sub.to_array()) == sub
    assert sub.to_tensor().shape == (6, 5)
    with pytest.raises(ValueError):
        sub.restrict(2, [0])  # not allowed there
    with pytest.raises(ValueError):
        OpMask(((False,) * 5,) + ((True,) * 5,) * 5)


def test_largest_network_matches_nb201_parameter_count():
    # NAS-Bench-201 reports 1.531546 M parameters for the all-conv3x3 cell (C=16, N=5, CIFAR-10).
    net = build_network((3,) * 6, channels=16, cells_per_stage=5, num_classes=10)
    assert count_parameters(net) == 1_531_546


def test_flops_scale_with_convolutions():
    small = build_network((1,) * 6, channels=4, cells_per_stage=1)
    big = build_network((3,) * 6, channels=4, cells_per_stage=1)
    assert count_flops(big, (1, 3, 32, 32)) > count_flops(small, (1, 3, 32, 32)) > 0


def test_supernet_restricted_to_genotype_equals_standalone_network():
    g = (3, 2, 1, 4, 0, 3)
    supernet = build_network(None, channels=4, cells_per_stage=2, num_classes=7, in_channels=1).eval()
    single = build_network(g, channels=4, cells_per_stage=2, num_classes=7, in_channels=1).eval()
    missing, unexpected = single.load_state_dict(supernet.state_dict(), strict=False)
    assert not missing  # every parameter of the standalone net exists in the supernet
    assert unexpected  # the supernet has more (the other ops)
    x = torch.randn(3, 1, 12, 12)
    torch.testing.assert_close(supernet(x, mask=OpMask.from_genotype(g)), single(x))


def test_mixed_op_is_weighted_sum_of_allowed_ops():
    net = build_network(None, channels=3, cells_per_stage=1).eval()
    mixed = net.layers[0].edges[0]
    x = torch.randn(2, 3, 8, 8)
    w = torch.rand(5)
    got = mixed(x, w, (0, 1, 2, 3, 4))
    expected = (w[1] * x + w[2] * mixed.convs["nor_conv_1x1"](torch.relu(x))
                + w[3] * mixed.convs["nor_conv_3x3"](torch.relu(x))
                + w[4] * torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False))
    torch.testing.assert_close(got, expected)


def test_masked_ops_are_never_computed(monkeypatch):
    calls = []
    original = supernet_mod.ConvBN.forward
    monkeypatch.setattr(supernet_mod.ConvBN, "forward",
                        lambda self, x: calls.append(self[0].kernel_size) or original(self, x))
    net = build_network(None, channels=3, cells_per_stage=1)
    no_conv = OpMask(tuple((True, True, False, False, True) for _ in range(6)))
    net(torch.randn(2, 3, 8, 8), mask=no_conv)
    # ConvBN with a 1×1 kernel only exists as the nor_conv_1x1 op (3×3 ones also sit in reduction blocks)
    assert (1, 1) not in calls
    calls.clear()
    net(torch.randn(2, 3, 8, 8), mask=OpMask.full().restrict(0, [3]))
    assert calls.count((1, 1)) == 5 * 3  # 1×1 conv on the 5 other edges of each of the 3 cells


def test_run_mask_must_be_built():
    net = build_network((3,) * 6, channels=2, cells_per_stage=1)
    with pytest.raises(ValueError, match="not built"):
        net(torch.randn(1, 3, 8, 8), mask=OpMask.full())


def test_no_path_architecture_gives_constant_logits():
    # no path from the cell input to node 3: every cell outputs zeros, the logits ignore the input
    g = genotype_from_str("|none~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|")
    net = build_network(g, channels=2, cells_per_stage=1).eval()
    out = net(torch.randn(4, 3, 8, 8))
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, out[:1].expand_as(out))


def test_ops_order():
    assert OPS == ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    assert len(list(itertools.islice(all_genotypes(), 10))) == 10


def test_avg_pool_matches_torch():
    x = torch.randn(3, 4, 7, 9, requires_grad=True)
    expected = torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    got = supernet_mod.avg_pool_3x3(x)
    torch.testing.assert_close(got, expected)
    g_expected, = torch.autograd.grad(expected.square().sum(), x)
    g_got, = torch.autograd.grad(got.square().sum(), x)
    torch.testing.assert_close(g_got, g_expected)


def test_search_cells_batchnorm_has_no_affine_by_default():
    """NB201's search cells use BatchNorm(affine=False); ``network.cell_bn_affine: true`` and
    standalone networks keep the learned scale and shift; stem, reductions and head keep theirs."""
    from torch import nn

    from fewshotnas.train.loop import new_network

    class Data:
        num_classes, in_channels = 10, 1

    def cell_bns(net):
        return [m for name, m in net.named_modules() if isinstance(m, nn.BatchNorm2d) and ".edges." in name]

    search = new_network(Data(), {"channels": 2, "cells_per_stage": 1})
    assert cell_bns(search) and all(not bn.affine for bn in cell_bns(search))
    assert search.stem[1].affine and search.head[0].affine
    assert all(bn.affine for bn in cell_bns(new_network(Data(), {"channels": 2, "cells_per_stage": 1,
                                                                 "cell_bn_affine": True})))
    assert all(bn.affine for bn in cell_bns(build_network((3, 3, 3, 3, 3, 3), channels=2, cells_per_stage=1)))

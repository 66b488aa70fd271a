"""Bad command lines: sizes beyond any sane network get a one-line error, not a hang."""

from __future__ import annotations

import pytest

from fewshotnas.cli import main

pytestmark = pytest.mark.bad_input


OVERSIZED = [
    (["info", "1", "--cells", "100000"], "--cells: 100000 is too large: cells per stage must be ≤ 32"),
    (["info", "1", "--channels", "4096"], "--channels: 4096 is too large: channels must be ≤ 256"),
    (["info", "1", "--classes", "10000000"], "--classes: 10000000 is too large"),
    (["score", "--metric", "snip", "--batch-size", "100000", "1"], "--batch-size: 100000 is too large"),
    (["score", "--metric", "snip", "--batches", "5000", "1"], "--batches: 5000 is too large"),
    (["score", "--metric", "snip", "--image-size", "4096", "1"], "--image-size: 4096 is too large"),
]


@pytest.mark.parametrize("argv, message", OVERSIZED, ids=[" ".join(a[:1] + a[-3:-1]) for a, _ in OVERSIZED])
def test_cli_sizes_have_upper_bounds(capsys, argv, message):
    """Before, ``info --cells 100000`` built the network and never returned."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1 and message in err, err

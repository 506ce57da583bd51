"""Histograms of circuit results: real results from the local server drawn on matplotlib Figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from qibo import Circuit, gates

from qiboconnection.api import API
from qiboconnection.plotting import MAX_BARS, plot_counts, save_counts_png
from qiboconnection.results import QaaSCircuitResult

SIMULATOR = 1


def bell() -> Circuit:
    circuit = Circuit(2)
    circuit.add([gates.H(0), gates.CNOT(0, 1), gates.M(0, 1)])
    return circuit


def bars(axes: Any) -> dict[str, int]:
    labels = [tick.get_text() for tick in axes.get_xticklabels()]
    heights = [int(patch.get_height()) for patch in axes.patches]
    return dict(zip(labels, heights, strict=True))


def test_result_plot_draws_the_counts(alice: API, tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    [result] = alice.submit(circuit=bell(), device_id=SIMULATOR, nshots=300).result(timeout=30, interval=0)
    figure = result.plot()
    assert isinstance(figure, Figure)
    [axes] = figure.axes
    assert bars(axes) == dict(sorted(result.frequencies().items()))
    assert axes.get_title() == "300 shots"
    assert axes.get_ylabel() == "counts"

    custom = Figure()
    target = custom.add_subplot()
    assert result.plot(ax=target, title="Bell") is custom
    assert target.get_title() == "Bell"

    out = tmp_path / "bell.png"
    save_counts_png([result, result], out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_many_outcomes_and_bad_input() -> None:
    counts = {format(n, "08b"): n + 1 for n in range(200)}
    figure = plot_counts(QaaSCircuitResult({"counts": counts}))
    shown = bars(figure.axes[0])
    assert len(shown) == MAX_BARS
    assert sum(shown.values()) == sum(counts.values())
    assert shown["other"] == sum(sorted(counts.values())[: 200 - (MAX_BARS - 1)])
    two = plot_counts([QaaSCircuitResult({"counts": {"0": 1}}), QaaSCircuitResult({"counts": {"1": 2}})])
    assert [axes.get_title() for axes in two.axes] == ["circuit 0: 1 shots", "circuit 1: 2 shots"]
    with pytest.raises(TypeError, match="expected a circuit result with counts"):
        plot_counts(42)
    with pytest.raises(ValueError, match="empty"):
        plot_counts([])


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install qiboconnection\[plot\]"):
        QaaSCircuitResult({"counts": {"00": 3}}).plot()


def test_plotting_leaves_pyplot_and_the_backend_alone(tmp_path: Path) -> None:
    code = (
        "import sys, matplotlib\n"
        "before = matplotlib.rcParams._get_backend_or_none()\n"
        "from qiboconnection.results import QaaSCircuitResult\n"
        f"QaaSCircuitResult({{'counts': {{'00': 2, '11': 3}}}}).plot().savefig({str(tmp_path / 'x.png')!r})\n"
        "print('matplotlib.pyplot' in sys.modules, before == matplotlib.rcParams._get_backend_or_none())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
    assert (tmp_path / "x.png").read_bytes()[:4] == b"\x89PNG"

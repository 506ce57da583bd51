"""Histograms of circuit results with matplotlib (the optional ``plot`` extra).

Figures are built with :class:`matplotlib.figure.Figure` and the Agg canvas directly, never through
``pyplot``, so plotting changes no global matplotlib state (backend, current figure) of the caller.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["plot_counts", "save_counts_png"]

#: Bars shown at most; the rarest outcomes beyond this are summed into one "other" bar.
MAX_BARS = 64


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(
            "Plotting needs matplotlib, which is not installed: run `pip install qiboconnection[plot]`"
        ) from None


def _counts_of(result: Any) -> dict[str, int]:
    frequencies = getattr(result, "frequencies", None)
    if callable(frequencies):
        table = frequencies()
    elif isinstance(result, Mapping) and isinstance(result.get("counts"), Mapping):
        table = result["counts"]
    else:
        raise TypeError(f"Cannot plot {type(result).__name__}: expected a circuit result with counts")
    return {str(key): int(value) for key, value in table.items()}


def _bars(counts: Mapping[str, int]) -> tuple[list[str], list[int]]:
    ordered = sorted(counts.items())
    if len(ordered) <= MAX_BARS:
        return [key for key, _ in ordered], [value for _, value in ordered]
    common = sorted(ordered, key=lambda item: -item[1])[: MAX_BARS - 1]
    kept = sorted(common)
    rest = sum(counts.values()) - sum(value for _, value in kept)
    return [key for key, _ in kept] + ["other"], [value for _, value in kept] + [rest]


def plot_counts(results: Any, *, ax: Axes | None = None, title: str | None = None) -> Figure:
    """A bar chart of the counts of one circuit result (or one panel per result for a list).

    Args:
        results: a :class:`~qiboconnection.results.QaaSCircuitResult` (or a list of them).
        ax: draw into these axes instead of a new figure (single result only).
        title: the title (default: shots and qubits).

    Returns:
        The matplotlib ``Figure`` (its axes are ``figure.axes``).

    Raises:
        ImportError: matplotlib is not installed (``pip install qiboconnection[plot]``).
    """
    _require_matplotlib()
    from matplotlib.figure import Figure

    many = isinstance(results, Sequence) and not isinstance(results, str | bytes | Mapping)
    items = list(results) if many else [results]
    if not items:
        raise ValueError("Nothing to plot: the result list is empty")
    if ax is not None and len(items) != 1:
        raise ValueError("ax= takes a single result; give a list without ax= to get one panel each")
    if ax is not None:
        # The figure that owns the axes; for axes in a subfigure, the figure that holds the subfigure.
        figure = ax.figure.figure
        axes = [ax]
    else:
        figure = Figure(figsize=(max(4.0, 3.5 * len(items)), 3.5), layout="constrained")
        axes = list(figure.subplots(1, len(items), squeeze=False)[0])
    for number, (item, panel) in enumerate(zip(items, axes, strict=True)):
        labels, values = _bars(_counts_of(item))
        panel.bar(range(len(labels)), values, color="#3465a4")
        panel.set_xticks(range(len(labels)), labels, rotation=90 if len(labels) > 8 else 0)
        panel.set_xlabel("outcome (qubit 0 first)")
        panel.set_ylabel("counts")
        shots = sum(values)
        default = f"{shots} shots" if len(items) == 1 else f"circuit {number}: {shots} shots"
        panel.set_title(title if title is not None else default)
    return figure


def save_counts_png(results: Any, path: str | os.PathLike[str], *, title: str | None = None) -> None:
    """Draw :func:`plot_counts` and write it to ``path`` as PNG (with the Agg canvas)."""
    figure = plot_counts(results, title=title)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    figure.savefig(os.fspath(path), format="png", dpi=100)

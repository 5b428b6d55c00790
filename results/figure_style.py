"""The finishing touches every PNG figure shares: the layout, legends, titles that fit, and saving.

Kept in one place so figures of a run, a sweep and a report look alike, and so that none is cut:
every figure is made with :func:`figure` (constrained layout, at :data:`DPI`), legends go beside
the axes (:func:`save` with ``legend_beside``) or below everything (:func:`legend_below`), and
:func:`save` wraps titles and axis labels that would run past their axes or the figure before
writing it. A PNG is written at the figure's own size and resolution (no ``bbox_inches``
cropping), so what the layout shows is exactly what the file and report.html show.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import IO, Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

Dest = Path | str | IO[bytes]

#: resolution of every PNG, on disk and in report.html
DPI = 110
#: space kept free at the figure's edges, in pixels
EDGE_PX = 6

#: Functions called as ``hook(fig, dest)`` with every figure once it is laid out and written,
#: just before it is closed. Empty in normal use; tests/test_figures.py registers one to check
#: the layout of every figure placesim draws without reading the PNGs back.
after_save: list[Callable[[matplotlib.figure.Figure, Dest], None]] = []


def figure(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], **kw):
    """``plt.subplots`` with constrained layout at :data:`DPI`: the layout makes room for titles,
    labels, colour bars and legends instead of letting them overlap or leave the figure."""
    return plt.subplots(nrows, ncols, figsize=figsize, dpi=DPI, layout="constrained", **kw)


def year_axis(axis) -> None:
    """Whole years as ticks (2019, 2020, ...), never 2019.25 or an offset."""
    axis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    axis.get_major_formatter().set_useOffset(False)


def wrap_label(text: str, width: int) -> str:
    """``text`` on lines of at most ``width`` characters (words kept whole), for category tick labels."""
    return "\n".join(textwrap.fill(p, width, break_long_words=False) for p in str(text).split("\n"))


def legend_below(fig, handles, fontsize: float = 8):
    """A figure legend below everything else, in as few rows as fit the figure's width."""
    renderer = fig.canvas.get_renderer()
    room = fig.bbox.width - 2 * EDGE_PX
    n = len(handles)
    for rows in range(1, n + 1):
        ncols = math.ceil(n / rows)
        leg = fig.legend(handles=handles, loc="outside lower center", ncols=ncols, frameon=False, fontsize=fontsize)
        if ncols == 1 or leg.get_window_extent(renderer).width <= room:
            return leg
        leg.remove()
    return leg


def _fit(text, room: float, renderer, vertical: bool = False) -> None:
    """Wrap ``text`` (a Text artist) at spaces until it is at most ``room`` pixels long."""
    original = text.get_text()
    if not original.strip() or room <= 0:
        return

    def length() -> float:
        bb = text.get_window_extent(renderer)
        return bb.height if vertical else bb.width

    current = length()
    if current <= room:
        return
    paragraphs = original.split("\n")
    width = max(len(p) for p in paragraphs)
    width = max(8, min(width - 1, int(width * room / current)))
    while width >= 8:
        text.set_text("\n".join(textwrap.fill(p, width, break_long_words=False) for p in paragraphs))
        if length() <= room:
            return
        width -= 2


def fit_texts(fig) -> None:
    """Lay ``fig`` out, then wrap the suptitle to the figure's width and each axes' title and axis
    labels to the axes, so that no title or label is cut or runs into a neighbour. (Drawing the
    figure lays it out again, around the wrapped texts.)"""
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)
    renderer = fig.canvas.get_renderer()
    for t in fig.texts:
        _fit(t, fig.bbox.width - 2 * EDGE_PX, renderer)
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        box = ax.bbox
        for t in (ax.title, ax._left_title, ax._right_title):
            _fit(t, box.width, renderer)
        _fit(ax.xaxis.label, box.width, renderer)
        _fit(ax.yaxis.label, box.height, renderer, vertical=True)


def save(fig, path: Dest, legend_beside=None) -> Dest:
    """Lay out and write ``fig`` to ``path`` (a file name or a binary file) as PNG, then close it;
    ``legend_beside``: an axes whose legend goes to the right of it, outside the plot."""
    if legend_beside is not None:
        legend_beside.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    if fig.get_layout_engine() is None:
        fig.set_layout_engine("constrained")
    try:
        fit_texts(fig)
        fig.savefig(path, format="png", dpi=fig.dpi)
        for hook in after_save:
            hook(fig, path)
    finally:
        plt.close(fig)
    return path

"""The finishing touches every PNG figure shares: the legend beside the axes, and saving.

Kept in one place so figures of a run, a sweep and a report look alike.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def save(fig, path: Path, legend_beside=None) -> Path:
    """Lay out and write ``fig`` to ``path``, closing it; ``legend_beside``: an axes whose legend
    goes to the right of it, outside the plot."""
    if legend_beside is not None:
        legend_beside.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path

"""style.py - one look for every figure: sizes for a paper column, fonts, colours, time axis.

Colours follow the Okabe-Ito palette (distinguishable with the common colour-vision
deficiencies). A site is drawn in the colour of its grid region everywhere, so `california`
and the `CAISO_NORTH` baseline share a colour across figures; the curtailment-aware run is
black and the federated baseline grey.
"""

import datetime
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.ticker import (  # noqa: E402
    LogLocator,
    MultipleLocator,
    NullFormatter,
    ScalarFormatter,
)

SINGLE_IN = 3.5  # one column of a two-column paper, inches
DOUBLE_IN = 7.0  # full page width, inches

RC = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "figure.titlesize": 8.5,
    "lines.linewidth": 1.1,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "legend.frameon": False,
    "pdf.fonttype": 42,  # TrueType in PDFs, which journals accept
    # Layout: every figure uses matplotlib's constrained layout, which keeps titles, outside
    # legends and labels inside the figure at its nominal size (no bbox cropping needed).
}

_KNOWN_REGIONS = {
    "CAISO_NORTH": "#0072B2",  # blue
    "SPP_TX": "#E69F00",  # orange
    "NEM_SA": "#009E73",  # bluish green
    "DE": "#CC79A7",  # reddish purple
}
_SPARE = ["#56B4E9", "#8C6D31", "#F0E442", "#332288", "#882255", "#44AA99"]

AWARE_COLOR = "#000000"
FEDERATED_COLOR = "#777777"
CENTRAL_COLOR = "#D55E00"  # a centralized curve that stands for several identical regions
THRESHOLD_COLOR = "#C00000"
WINDOW_COLOR = "#D9F0D3"  # pale green: inside a curtailment window
STATE_COLORS = {
    "provisioning": "#F4C27A",
    "ready": "#BFD3E6",
    "training": "#2B6CB0",
    "draining": "#E07B7B",
    "failed": "#8B0000",
}
CO2 = "CO$_2$"


class Palette:
    """Colour per region: the study's regions fixed, others from a spare list by first use."""

    def __init__(self, regions=()):
        self._colors = dict(_KNOWN_REGIONS)
        for r in regions:
            self.region(r)

    def region(self, name):
        if name not in self._colors:
            used = len(self._colors) - len(_KNOWN_REGIONS)
            self._colors[name] = _SPARE[used % len(_SPARE)]
        return self._colors[name]


def apply():
    """Sets the figure defaults (call once before drawing)."""
    plt.rcParams.update(RC)


def close(fig):
    """Frees a figure once saved (pyplot keeps every open figure otherwise)."""
    plt.close(fig)


def title(fig, text, width_in):
    """A caption-like title over the figure, wrapped to its width."""
    chars = int(width_in * 14)  # about 14 characters per inch at 8.5 pt
    fig.suptitle("\n".join(textwrap.wrap(text, chars)), x=0.5, ha="center")


def time_label(t0_unix_s):
    """x-axis label: hours since the run's start, with the start in UTC when known."""
    if t0_unix_s > 0:
        start = datetime.datetime.fromtimestamp(t0_unix_s, datetime.timezone.utc)
        return "hours since %s UTC" % start.strftime("%Y-%m-%d %H:%M")
    return "hours since the start of the run"


def hours(t_s):
    return t_s / 3600.0


def hour_axis(ax, end_h):
    """x from 0 to end_h hours, ticked at a round number of hours (at most about 10 ticks)."""
    ax.set_xlim(0, end_h)
    for step in (0.25, 0.5, 1, 2, 3, 4, 6, 12, 24, 48, 96, 168):
        if end_h / step <= 10:
            break
    else:
        step = end_h / 10
    ax.xaxis.set_major_locator(MultipleLocator(step))


def perplexity_axis(ax):
    """Log y axis for perplexity, ticked at 1-2-5 with plain numbers (10, 20, 50, 100)."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())

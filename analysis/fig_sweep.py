#!/usr/bin/python3
"""fig_sweep.py - figures of a sweep table (`spillway sweep`, docs/formats/sweep.md#table).

Two figures:
  sweep_pareto   carbon against runtime, one dot per point, the Pareto front (no other point
                 is at least as fast and as clean, and better in one) marked and joined;
  sweep_heatmap  one figure (default carbon_kg) over two parameters; when other parameters vary
                 too, each cell is the mean over them (said in the title).

Usage: analysis/fig_sweep.py SWEEP.h5 -o DIR [--x KEY --y KEY] [--value FIGURE]
       [--export-data DIR] [--formats png,pdf]
analysis/figures.py hands a sweep table given to it to this module. Exit status: 0 success,
1 runtime failure, 2 usage or input error.
"""

import argparse
import os
import sys

import h5py
import numpy as np

PROG = "fig_sweep.py"
FORMAT_VERSION = 1
FIGURES = ("runtime_h", "gpu_hours", "energy_kwh", "curtailed_energy_fraction", "carbon_kg",
           "final_ppl", "tokens")
LABELS = {
    "runtime_h": "runtime (h)",
    "gpu_hours": "GPU-hours",
    "energy_kwh": "energy (kWh)",
    "curtailed_energy_fraction": "share of energy in curtailment windows",
    "carbon_kg": "carbon (kgCO2)",
    "final_ppl": "final perplexity",
    "tokens": "tokens",
}


class SweepError(Exception):
    """Bad input: the message names the file and what is wrong."""


class Table:
    """A sweep table: name, base, params (keys), values[key] (numpy array: float for numeric
    parameters, str otherwise), fig[name] (float arrays, NaN without a report), point, report."""

    def __init__(self, path):
        self.path = path
        try:
            f = h5py.File(path, "r")
        except OSError as e:
            raise SweepError("%s: not an HDF5 file (%s)" % (path, e)) from None
        with f:
            if "sweep_format_version" not in f.attrs:
                raise SweepError("%s: attribute 'sweep_format_version' missing: not a sweep "
                                 "table" % path)
            if int(f.attrs["sweep_format_version"]) != FORMAT_VERSION:
                raise SweepError("%s: sweep_format_version %s, this reads %d"
                                 % (path, f.attrs["sweep_format_version"], FORMAT_VERSION))
            if "sweep" not in f:
                raise SweepError("%s: dataset /sweep missing" % path)
            rows = f["sweep"][()]
            text = f.attrs.get("parameters", "")
            text = text.decode() if isinstance(text, bytes) else str(text)
            self.params = [k for k in text.split("\n") if k]
            self.name = _text(f.attrs.get("sweep", ""))
            self.base = _text(f.attrs.get("base", ""))
        names = rows.dtype.names or ()
        for col in ("point", "report") + FIGURES + tuple(self.params):
            if col not in names:
                raise SweepError("%s: /sweep: column '%s' missing" % (path, col))
        self.point = rows["point"].astype(int)
        self.report = np.array([_text(r) for r in rows["report"]])
        self.fig = {k: rows[k].astype(float) for k in FIGURES}
        self.values = {}
        for k in self.params:
            col = rows[k]
            self.values[k] = (col.astype(float) if col.dtype.kind == "f"
                              else np.array([_text(v) for v in col]))

    def numeric(self, key):
        return self.values[key].dtype.kind == "f"


def _text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def is_sweep_table(path):
    """True for an HDF5 file with the sweep_format_version attribute."""
    try:
        with h5py.File(path, "r") as f:
            return "sweep_format_version" in f.attrs
    except OSError:
        return False


def pareto_front(runtime_h, carbon_kg):
    """Indices of the points no other point dominates (runtime and carbon both lower or equal,
    one strictly), sorted by runtime; NaN points are never on it."""
    r, c = np.asarray(runtime_h, float), np.asarray(carbon_kg, float)
    ok = ~(np.isnan(r) | np.isnan(c))
    front = []
    for i in np.flatnonzero(ok):
        dominated = ok & (r <= r[i]) & (c <= c[i]) & ((r < r[i]) | (c < c[i]))
        if not dominated.any():
            front.append(i)
    front = np.array(front, dtype=int)
    return front[np.lexsort((c[front], r[front]))] if front.size else front


def carbon_runtime(t):
    """Figure: carbon against runtime, the Pareto front marked. Returns (fig, data)."""
    import style
    import matplotlib.pyplot as plt

    r, c = t.fig["runtime_h"], t.fig["carbon_kg"]
    front = pareto_front(r, c)
    fig, ax = plt.subplots(figsize=(style.SINGLE_IN, 2.6), layout="constrained")
    ax.scatter(r, c, s=14, color="#999999", label="sweep point", zorder=2)
    ax.plot(r[front], c[front], "-o", color=style.AWARE_COLOR, markersize=4,
            label="Pareto front", zorder=3)
    at = {}  # points with the same figures share one label
    for i in front:
        at.setdefault((r[i], c[i]), []).append(str(t.point[i]))
    for (ri, ci), ids in at.items():
        ax.annotate(",".join(ids), (ri, ci), textcoords="offset points", xytext=(3, 3),
                    fontsize=6)
    ax.set_xlabel(LABELS["runtime_h"])
    ax.set_ylabel(LABELS["carbon_kg"])
    ax.legend(loc="best")
    style.title(fig, "%s: carbon against runtime, %d points (labels: point ids on the front)"
                % (t.name, len(t.point)), style.SINGLE_IN)
    data = {"point": t.point, "runtime_h": r, "carbon_kg": c, "front_point": t.point[front],
            "front_runtime_h": r[front], "front_carbon_kg": c[front]}
    return fig, data


def _axis_values(t, key):
    v = t.values[key]
    if t.numeric(key):
        return np.unique(v[~np.isnan(v)])
    seen = []
    for x in v:
        if x not in seen:
            seen.append(x)
    return np.array(seen)


def heat_grid(t, x, y, value):
    """The mean of figure `value` per (y, x) cell over the points with those values (NaN where
    none ran). Returns (x values, y values, grid[len(y), len(x)], count per cell)."""
    xs, ys = _axis_values(t, x), _axis_values(t, y)
    grid = np.full((len(ys), len(xs)), np.nan)
    count = np.zeros((len(ys), len(xs)), dtype=int)
    v = t.fig[value]
    for iy, yv in enumerate(ys):
        for ix, xv in enumerate(xs):
            sel = (t.values[x] == xv) & (t.values[y] == yv) & ~np.isnan(v)
            count[iy, ix] = int(sel.sum())
            if count[iy, ix]:
                grid[iy, ix] = v[sel].mean()
    return xs, ys, grid, count


def heatmap(t, x, y, value):
    """Figure: `value` over parameters x and y. Returns (fig, data)."""
    import style
    import matplotlib.pyplot as plt

    xs, ys, grid, count = heat_grid(t, x, y, value)
    fig, ax = plt.subplots(figsize=(style.SINGLE_IN, 2.8), layout="constrained")
    im = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(xs)), [("%g" % v) if t.numeric(x) else v for v in xs])
    ax.set_yticks(range(len(ys)), [("%g" % v) if t.numeric(y) else v for v in ys])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.grid(False)
    finite = grid[np.isfinite(grid)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0
    for iy in range(len(ys)):
        for ix in range(len(xs)):
            if np.isfinite(grid[iy, ix]):
                ax.text(ix, iy, "%.3g" % grid[iy, ix], ha="center", va="center", fontsize=6,
                        color="white" if grid[iy, ix] < mid else "black")
    fig.colorbar(im, ax=ax, label=LABELS.get(value, value))
    others = [k for k in t.params if k not in (x, y) and len(_axis_values(t, k)) > 1]
    note = (", mean over " + ", ".join(others)) if others else ""
    style.title(fig, "%s: %s%s" % (t.name, LABELS.get(value, value), note), style.SINGLE_IN)
    data = {"x": xs, "y": ys, "value": grid, "count": count}
    return fig, data


def _default_axes(t):
    varying = [k for k in t.params if len(_axis_values(t, k)) > 1]
    return varying[:2]


def _parse_args(argv):
    p = argparse.ArgumentParser(
        prog=PROG, description="Draws a spillway sweep table (DIR/sweep.h5 of `spillway sweep`): "
        "carbon against runtime with the Pareto front, and a heat map over two parameters. "
        "Exit status: 0 success, 1 runtime failure, 2 usage or input error.")
    p.add_argument("table", metavar="SWEEP.h5")
    p.add_argument("-o", "--output", default="figures", metavar="DIR")
    p.add_argument("--x", metavar="KEY", help="heat map columns (default: the first parameter "
                   "that varies)")
    p.add_argument("--y", metavar="KEY", help="heat map rows (default: the second)")
    p.add_argument("--value", default="carbon_kg", choices=FIGURES,
                   help="figure shown by the heat map (default: carbon_kg)")
    p.add_argument("--export-data", metavar="DIR",
                   help="also write the arrays each figure draws (<figure>.npz)")
    p.add_argument("--formats", default="png,pdf", metavar="LIST")
    p.add_argument("--dpi", type=float, default=120.0)
    return p.parse_args(argv)


def _save(fig, data, stem, args):
    written = []
    for fmt in [f.strip() for f in args.formats.split(",") if f.strip()]:
        path = os.path.join(args.output, "%s.%s" % (stem, fmt))
        tmp = os.path.join(args.output, ".%s.%s.tmp-%d" % (stem, fmt, os.getpid()))
        meta = {"CreationDate": None} if fmt == "pdf" else ({"Date": None} if fmt == "svg" else {})
        try:
            fig.savefig(tmp, format=fmt, dpi=args.dpi, metadata=meta)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        written.append(path)
    if args.export_data:
        path = os.path.join(args.export_data, stem + ".npz")
        tmp = path + ".tmp-%d" % os.getpid()
        with open(tmp, "wb") as fh:
            np.savez(fh, **data)
        os.replace(tmp, path)
        written.append(path)
    return written


def main(argv=None):
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    for fmt in [f.strip() for f in args.formats.split(",") if f.strip()]:
        if fmt not in ("png", "pdf", "svg"):
            sys.stderr.write("%s: --formats: '%s' is not one of png, pdf, svg\n" % (PROG, fmt))
            return 2
    try:
        t = Table(args.table)
    except SweepError as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 2
    axes = _default_axes(t)
    x = args.x or (axes[0] if axes else None)
    y = args.y or (axes[1] if len(axes) > 1 else None)
    for flag, k in (("--x", x), ("--y", y)):
        if k is not None and k not in t.params:
            sys.stderr.write("%s: %s %s: not a parameter of %s (parameters: %s)\n"
                             % (PROG, flag, k, args.table, ", ".join(t.params)))
            return 2
    if not np.isfinite(t.fig["carbon_kg"]).any():
        sys.stderr.write("%s: %s: no point has a report yet\n" % (PROG, args.table))
        return 2
    _here = os.path.dirname(os.path.abspath(__file__))
    if _here not in sys.path:
        sys.path.insert(0, _here)
    import style

    try:
        for d in filter(None, (args.output, args.export_data)):
            os.makedirs(d, exist_ok=True)
    except OSError as e:
        sys.stderr.write("%s: cannot create %s: %s\n" % (PROG, e.filename, e.strerror))
        return 1
    style.apply()
    todo = [("sweep_pareto", lambda: carbon_runtime(t))]
    if x and y and x != y:
        todo.append(("sweep_heatmap", lambda: heatmap(t, x, y, args.value)))
    else:
        sys.stderr.write("%s: sweep_heatmap skipped: it needs two parameters that vary\n" % PROG)
    for stem, draw in todo:
        fig, data = draw()
        try:
            written = _save(fig, data, stem, args)
        except OSError as e:
            sys.stderr.write("%s: cannot write %s: %s\n" % (PROG, e.filename or stem, e.strerror))
            return 1
        finally:
            style.close(fig)
        print("wrote " + ", ".join(written))
    return 0


if __name__ == "__main__":
    _here = os.path.dirname(os.path.abspath(__file__))
    if _here not in sys.path:
        sys.path.insert(0, _here)
    sys.exit(main())

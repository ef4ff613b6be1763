#!/usr/bin/python3
"""figures.py - the reference study's figures (and the schedule at a glance) from spillway reports.

Give it any set of reports: it works out which is the curtailment-aware run, which are the
centralized baselines and which the federated one (roles.py), draws every figure those reports
allow, and says which it skipped and why. See docs/figures.md.
"""

import argparse
import importlib
import os
import re
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

try:
    # matplotlib is imported only once the reports have been read (style, fig_*): bad input
    # is reported in a fraction of the time.
    import numpy as np

    import report
    import roles as roles_mod
except ImportError as e:  # a clear word instead of a traceback on a machine without them
    sys.stderr.write(
        "figures.py: %s (install python3-numpy python3-h5py python3-matplotlib and run with "
        "/usr/bin/python3)\n" % e
    )
    sys.exit(1)

PROG = "figures.py"

# (file stem, "module.function", many, what it shows). The function takes (roles, context) and
# returns (fig, data), or when `many` [(name, fig, data)] with the name appended to the stem;
# it raises roles.Skip when the reports given do not allow it.
FIGURES = [
    ("fig1_loss_mci", "fig_training.loss_and_mci", False, "carbon intensity and per-site loss"),
    ("fig2_perplexity", "fig_training.perplexity", False, "perplexity per kind of run"),
    ("fig3_power_emissions", "fig_energy.power_emissions", False, "power and emissions over time"),
    ("fig4_emissions_bars", "fig_energy.emission_bars", False, "emissions and curtailed share"),
    ("fig5_timeline", "fig_timeline.timeline", False, "schedule of each site"),
    ("fig6_compare", "fig_timeline.compare_runs", True, "runs of one scenario compared"),
]


def _function(dotted):
    module, name = dotted.split(".")
    return getattr(importlib.import_module(module), name)


class Context:
    """What the figure functions share: the colour of each region, the EMA time constant, and
    a place to say what was left out."""

    def __init__(self, palette, ema_tau_s, bin_s, quiet):
        self.palette, self.ema_tau_s, self.bin_s, self.quiet = palette, ema_tau_s, bin_s, quiet

    def note(self, text):
        if not self.quiet:
            sys.stderr.write("%s: %s\n" % (PROG, text))


def _parse_args(argv):
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Draws the reference study's figures from spillway HDF5 reports "
        "(docs/formats/report.md): the curtailment-aware run, its centralized baselines "
        "(<scenario>-central-<REGION>) and the federated one (<scenario>-federated2), as "
        "written by `spillway sim --baselines`, or any subset of them. Each figure the "
        "reports allow is written as PNG and PDF; the others are skipped with a message. "
        "Exit status: 0 success, 1 runtime failure, 2 usage or input error.",
        epilog="example: analysis/figures.py results/paper*.h5 -o figures/  (see docs/figures.md)",
    )
    p.add_argument("reports", nargs="+", metavar="REPORT.h5", help="spillway reports")
    p.add_argument("-o", "--output", default="figures", metavar="DIR",
                   help="directory for the figures (created if missing; default: figures)")
    p.add_argument("--export-data", metavar="DIR",
                   help="also write the arrays each figure draws, one NPZ file per figure "
                   "(<figure>.npz, times in hours)")
    p.add_argument("--formats", default="png,pdf", metavar="LIST",
                   help="comma-separated image formats (default: png,pdf)")
    p.add_argument("--dpi", type=float, default=120.0, help="PNG resolution (default: 120)")
    p.add_argument("--only", metavar="LIST",
                   help="comma-separated figure numbers or stems to draw, e.g. 1,5")
    p.add_argument("--ema-s", type=float, default=600.0, metavar="S",
                   help="time constant of the loss smoothing in figure 1, s (default: 600)")
    p.add_argument("--bin-s", type=float, default=1800.0, metavar="S",
                   help="averaging interval of power and emission rate in figure 3, s "
                   "(default: 1800)")
    p.add_argument("-q", "--quiet", action="store_true", help="no messages about skipped figures")
    args = p.parse_args(argv)
    args.formats = [f.strip().lower() for f in args.formats.split(",") if f.strip()]
    for fmt in args.formats:
        if fmt not in ("png", "pdf", "svg"):
            p.error("--formats: '%s' is not one of png, pdf, svg" % fmt)
    if not args.formats:
        p.error("--formats: no format given")
    if args.dpi <= 0 or args.ema_s <= 0 or args.bin_s <= 0:
        p.error("--dpi, --ema-s and --bin-s must be positive")
    if args.only:
        wanted = [w.strip() for w in args.only.split(",") if w.strip()]
        chosen = []
        for w in wanted:
            match = [stem for stem, *_ in FIGURES if stem == w or stem.startswith("fig%s_" % w)]
            if not match:
                p.error("--only: no figure '%s' (figures 1 to %d)" % (w, len(FIGURES)))
            chosen += match
        args.only = set(chosen)
    return args


def _replace_atomically(path, write):
    """Calls write(tmp_path) then renames tmp_path to path, so a failure leaves no half file."""
    tmp = os.path.join(os.path.dirname(path), ".%s.tmp-%d" % (os.path.basename(path), os.getpid()))
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _save(fig, data, stem, args):
    """Writes fig in each format to args.output and data to args.export_data; returns paths."""
    written = []
    for fmt in args.formats:
        path = os.path.join(args.output, "%s.%s" % (stem, fmt))
        # No creation date in PDFs and SVGs: the same reports give the same files.
        meta = {"CreationDate": None} if fmt == "pdf" else ({"Date": None} if fmt == "svg" else {})
        _replace_atomically(
            path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=args.dpi, metadata=meta))
        written.append(path)
    if args.export_data:
        path = os.path.join(args.export_data, stem + ".npz")

        def write_npz(tmp):
            with open(tmp, "wb") as fh:
                np.savez(fh, **data)

        _replace_atomically(path, write_npz)
        written.append(path)
    return written


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    # A sweep table (`spillway sweep`) has figures of its own: analysis/fig_sweep.py.
    import fig_sweep

    if any(a.endswith(".h5") and fig_sweep.is_sweep_table(a) for a in argv):
        return fig_sweep.main(argv)
    args = _parse_args(argv)
    reports, bad = [], False
    for path in args.reports:
        try:
            reports.append(report.load(path))
        except report.ReportError as e:
            sys.stderr.write("%s: %s\n" % (PROG, e))
            bad = True
    if bad:
        return 2
    roles = roles_mod.Roles(reports)
    try:
        import style  # selects matplotlib's Agg backend before any figure module imports pyplot
    except ImportError as e:
        sys.stderr.write("%s: %s (install python3-matplotlib)\n" % (PROG, e))
        return 1
    regions = [s.region for r in reports for s in r.sites] + [g for r in reports for g in r.signals]
    ctx = Context(style.Palette(regions), args.ema_s, args.bin_s, args.quiet)
    for text in roles.notes:
        ctx.note(text)
    try:
        for d in filter(None, (args.output, args.export_data)):
            os.makedirs(d, exist_ok=True)
    except OSError as e:
        sys.stderr.write("%s: cannot create %s: %s\n" % (PROG, e.filename, e.strerror))
        return 1

    style.apply()
    made = 0
    for stem, dotted, many, what in FIGURES:
        if args.only and stem not in args.only:
            continue
        try:
            result = _function(dotted)(roles, ctx)
        except roles_mod.Skip as e:
            ctx.note("%s (%s) skipped: %s" % (stem, what, e))
            continue
        items = result if many else [(None, result[0], result[1])]
        for name, fig, data in items:
            full = stem if name is None else "%s_%s" % (stem, re.sub(r"[^A-Za-z0-9_.-]", "_", name))
            try:
                written = _save(fig, data, full, args)
            except OSError as e:
                sys.stderr.write("%s: cannot write %s: %s\n"
                                 % (PROG, e.filename or full, e.strerror))
                return 1
            finally:
                style.close(fig)
            made += 1
            print("wrote " + ", ".join(written))
    if made == 0:
        sys.stderr.write("%s: none of the figures can be made from these reports\n" % PROG)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""fig_policies.py - policies side by side against the offline optimum (`spillway optimum --csv`).

One figure, policies_gap: a bar per schedule (the optimum, then each policy) with its carbon
under the step-grid cost model of docs/policies.md, the optimum's proven lower bound as a
dashed line, and each policy's gap to the optimum written on its bar; a policy that did not
train the budget is drawn hatched and labelled "short". The runtime of each schedule is on a
second panel.

Usage: spillway optimum SCENARIO --csv > gaps.csv
       analysis/fig_policies.py gaps.csv -o DIR [--formats png,pdf]
Exit status: 0 success, 1 runtime failure, 2 usage or input error.
"""

import argparse
import csv
import os
import sys

import style

PROG = "fig_policies.py"
COLUMNS = ["name", "carbon_kg", "tokens", "runtime_h", "feasible", "gap_optimum", "gap_bound"]


class InputError(Exception):
    """Bad input: the message names the file, line and field."""


def _number(path, line, row, key, allow_empty=False):
    text = row[key].strip()
    if text == "" and allow_empty:
        return None
    try:
        return float(text)
    except ValueError:
        raise InputError("%s:%d:%s: expected a number, got %r" % (path, line, key, text))


def read_table(path):
    """Rows of the CSV as dicts with numbers; the optimum and bound rows are required."""
    try:
        fh = open(path, newline="") if path != "-" else sys.stdin
    except OSError as e:
        raise InputError("%s: cannot open: %s" % (path, e.strerror))
    with fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames != COLUMNS:
            raise InputError("%s:1: header: expected %s" % (path, ",".join(COLUMNS)))
        rows = []
        for i, row in enumerate(reader, start=2):
            if None in row or any(v is None for v in row.values()):
                raise InputError("%s:%d: expected %d cells" % (path, i, len(COLUMNS)))
            rows.append({
                "name": row["name"],
                "carbon_kg": _number(path, i, row, "carbon_kg", allow_empty=True),
                "runtime_h": _number(path, i, row, "runtime_h", allow_empty=True),
                "feasible": _number(path, i, row, "feasible") == 1,
                "gap_optimum": _number(path, i, row, "gap_optimum", allow_empty=True),
            })
    names = [r["name"] for r in rows]
    for need in ("optimum", "bound"):
        if need not in names:
            raise InputError("%s: no '%s' row (an infeasible optimum has nothing to compare)"
                             % (path, need))
    return rows


def draw(rows):
    """The figure and the arrays it draws."""
    style.apply()
    optimum = next(r for r in rows if r["name"] == "optimum")
    bound = next(r for r in rows if r["name"] == "bound")
    bars = [optimum] + [r for r in rows if r["name"] not in ("optimum", "bound")]
    fig, (ax, ax_rt) = style.plt.subplots(1, 2, figsize=(style.DOUBLE_IN, 2.6),
                                          layout="constrained",
                                          gridspec_kw={"width_ratios": [3, 2]})
    xs = range(len(bars))
    carbon = [r["carbon_kg"] or 0.0 for r in bars]
    colours = [style.AWARE_COLOR if r["name"] == "optimum" else style.FEDERATED_COLOR
               for r in bars]
    for x, r, c, col in zip(xs, bars, carbon, colours):
        ax.bar(x, c, color=col, hatch=None if r["feasible"] else "//",
               edgecolor="black", linewidth=0.5)
        label = ("optimum" if r["name"] == "optimum" else
                 ("+%.1f %%" % (100 * r["gap_optimum"]) if r["feasible"] and
                  r["gap_optimum"] is not None else "short"))
        ax.text(x, c, label, ha="center", va="bottom", fontsize=7)
    ax.axhline(bound["carbon_kg"], color=style.THRESHOLD_COLOR, linestyle="--", linewidth=0.8,
               label="proven lower bound")
    ax.set_xticks(list(xs), [r["name"].replace("_", "\n") for r in bars])
    ax.set_ylabel("carbon (kgCO2, cost model)")
    ax.set_ylim(0, 1.15 * max(carbon + [bound["carbon_kg"]]))
    ax.legend(loc="upper right")
    runtime = [r["runtime_h"] or 0.0 for r in bars]
    ax_rt.bar(list(xs), runtime, color=colours, edgecolor="black", linewidth=0.5)
    ax_rt.set_xticks(list(xs), [r["name"].replace("_", "\n") for r in bars])
    ax_rt.set_ylabel("runtime (h)")
    style.title(fig, "Policies against the offline optimum: same token budget, same cost model",
                style.DOUBLE_IN)
    data = {"names": [r["name"] for r in bars], "carbon_kg": carbon, "runtime_h": runtime,
            "bound_kg": bound["carbon_kg"]}
    return fig, data


def parse_args(argv):
    p = argparse.ArgumentParser(prog=PROG, description="Draws `spillway optimum --csv` output: "
                                "each policy's carbon and gap to the offline optimum. Exit "
                                "status: 0 success, 1 runtime failure, 2 usage or input error.")
    p.add_argument("table", metavar="GAPS.csv", help="the CSV, or - for standard input")
    p.add_argument("-o", "--output", default="figures", metavar="DIR")
    p.add_argument("--formats", default="png,pdf", metavar="LIST")
    p.add_argument("--dpi", type=float, default=120.0)
    return p.parse_args(argv)


def main(argv=None):
    try:
        args = parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as e:
        return 2 if e.code else 0
    try:
        rows = read_table(args.table)
    except InputError as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 2
    try:
        os.makedirs(args.output, exist_ok=True)
        fig, _ = draw(rows)
        for fmt in [f.strip() for f in args.formats.split(",") if f.strip()]:
            path = os.path.join(args.output, "policies_gap.%s" % fmt)
            tmp = os.path.join(args.output, ".policies_gap.%s.tmp-%d" % (fmt, os.getpid()))
            meta = {"CreationDate": None} if fmt == "pdf" else {}
            try:
                fig.savefig(tmp, format=fmt, dpi=args.dpi, metadata=meta)
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
            print(path)
        style.close(fig)
    except (OSError, ValueError) as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

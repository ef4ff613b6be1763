"""fig_timeline.py - the schedule at a glance: each site's lifecycle states over its region's
curtailment windows, with round boundaries (figure 5), and the same for two or more reports of
one scenario (sim vs exec) with their perplexity curves overlaid (figure 6).

Each function takes the Roles of the reports and a Context and returns figures with the data
they draw (exported with --export-data), or raises Skip.
"""

import os

import style  # first: it selects the Agg backend before pyplot loads
import series
from roles import Skip

from matplotlib.lines import Line2D
from matplotlib.patches import Patch
import matplotlib.pyplot as plt
import numpy as np

_BAR = 0.56  # height of a state bar; a row is 1.0 and its window band 0.9
_RUN_COLORS = ["#000000", "#D55E00", "#0072B2", "#009E73"]
_RUN_STYLES = ["-", (0, (4, 2)), ":", "-."]


def _windows(rep, region, ctx):
    """Curtailment windows [(start_s, end_s)] of a region in a report ([] without a signal or
    a threshold, with a note)."""
    threshold = rep.policy.get("threshold_g_per_kwh")
    if region not in rep.signals or not isinstance(threshold, (int, float)):
        ctx.note("%s: no signal or threshold for region %s: its windows are not shaded"
                 % (rep.path, region))
        return []
    t_s, mci = rep.signals[region]
    return series.curtailment_windows(t_s, mci, threshold, series.signal_end_s(rep))


def _round_boundaries(rep, site):
    """Times (s) where a round that `site` took part in starts or ends, each once."""
    rows = [r for r in rep.rounds if site.index in rep.round_members(r)]
    times = [float(r["t_start_s"]) for r in rows] + [float(r["t_end_s"]) for r in rows]
    return np.unique(np.array(times, dtype=float))


def _draw_row(ax, y, site, rep, windows):
    """One Gantt row at height y: window band, state bars, boundaries of the site's rounds,
    and a mark where the run ends."""
    if windows:
        ax.broken_barh([(style.hours(a), style.hours(b - a)) for a, b in windows], (y - 0.45, 0.9),
                       color=style.WINDOW_COLOR, lw=0, zorder=0)
    for name, color in style.STATE_COLORS.items():
        spans = [(style.hours(a), style.hours(b - a))
                 for a, b, n in series.state_intervals(site, rep.end_s) if n == name]
        if spans:
            ax.broken_barh(spans, (y - _BAR / 2, _BAR), color=color, lw=0, zorder=2)
    ax.vlines(style.hours(_round_boundaries(rep, site)), y - 0.45, y + 0.45, color="0.2", lw=0.4,
              zorder=3)
    ax.vlines(style.hours(rep.end_s), y - 0.5, y + 0.5, color="k", lw=1.2, zorder=4)


def _legend_handles(reports, threshold):
    """Legend entries: the states that occur in the reports, windows, round marks, run end."""
    present = {n for rep in reports for s in rep.sites
               for _, _, n in series.state_intervals(s, rep.end_s)}
    handles = [Patch(color=c, label=n) for n, c in style.STATE_COLORS.items() if n in present]
    window = "curtailment window" + (" (MCI<%g)" % threshold if threshold is not None else "")
    handles.append(Patch(color=style.WINDOW_COLOR, label=window))
    handles.append(Line2D([], [], color="0.2", lw=0.6, label="round start/end"))
    handles.append(Line2D([], [], color="k", lw=1.2, label="run ends"))
    return handles


def _export_site(data, prefix, site, rep):
    data[prefix + "t_h"] = style.hours(site.states_t_s)
    data[prefix + "state"] = site.states
    data[prefix + "end_h"] = np.array(style.hours(rep.end_s))
    data[prefix + "round_bounds_h"] = style.hours(_round_boundaries(rep, site))


def timeline(roles, ctx):
    """Figure 5: Gantt chart of the curtailment-aware run's sites."""
    rep = roles.aware
    if rep is None:
        raise Skip("needs a curtailment-aware report")
    n = len(rep.sites)
    fig, ax = plt.subplots(figsize=(style.DOUBLE_IN, 1.3 + 0.45 * n), layout="constrained")
    data = {"state_names": np.array([rep.sites[0].state_names.get(i, str(i)) for i in range(6)])}
    for i, site in enumerate(rep.sites):
        windows = _windows(rep, site.region, ctx)
        _draw_row(ax, -i, site, rep, windows)
        _export_site(data, "site_%s_" % site.name, site, rep)
        data["window_%s_start_h" % site.region] = np.array([style.hours(a) for a, _ in windows])
        data["window_%s_end_h" % site.region] = np.array([style.hours(b) for _, b in windows])
    data["round_start_h"] = style.hours(rep.rounds["t_start_s"].astype(float))
    data["round_end_h"] = style.hours(rep.rounds["t_end_s"].astype(float))
    ax.set_yticks([-i for i in range(n)])
    ax.set_yticklabels(["%s\n%s" % (s.name, s.region) for s in rep.sites])
    ax.set_ylim(-n + 0.5, 0.5)
    style.hour_axis(ax, style.hours(series.signal_end_s(rep)))
    ax.set_xlabel(style.time_label(rep.t0_unix_s))
    ax.grid(axis="y", visible=False)
    threshold = rep.policy.get("threshold_g_per_kwh")
    handles = _legend_handles([rep], threshold)
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(handles),
              handlelength=1.2, columnspacing=0.8)
    style.title(
        fig,
        "Fig. 5. Schedule of %s (%s): each site's state over its region's curtailment windows, "
        "with the start and end of the rounds it took part in (%d rounds in all)."
        % (rep.scenario, rep.mode, len(rep.rounds)),
        style.DOUBLE_IN,
    )
    return fig, data


def _run_labels(group):
    """Label per report: its mode, with the file name when two reports share a mode."""
    modes = [r.mode for r in group]
    return [r.mode if modes.count(r.mode) == 1 else "%s (%s)" % (r.mode, os.path.basename(r.path))
            for r in group]


def compare_runs(roles, ctx):
    """Figure 6, one per scenario given twice or more: timelines of every report of the scenario
    (one row per site and report) above their perplexity curves. Returns [(scenario, fig, data)]."""
    if not roles.groups:
        raise Skip("needs two reports of the same scenario (e.g. sim and exec)")
    out = []
    for group in roles.groups:
        labels = _run_labels(group)
        names = list(dict.fromkeys(s.name for rep in group for s in rep.sites))
        rows = [(name, k) for name in names for k in range(len(group)) if group[k].site(name)]
        fig = plt.figure(figsize=(style.DOUBLE_IN, 3.8 + 0.32 * len(rows)), layout="constrained")
        gs = fig.add_gridspec(2, 1, height_ratios=[0.5 + 0.32 * len(rows), 2.2])
        ax_t = fig.add_subplot(gs[0])
        ax_p = fig.add_subplot(gs[1], sharex=ax_t)
        data = {}
        for y, (name, k) in enumerate(rows):
            rep = group[k]
            site = rep.site(name)
            _draw_row(ax_t, -y, site, rep, _windows(rep, site.region, ctx))
            _export_site(data, "run%d_site_%s_" % (k, name), site, rep)
        end_h = 0.0
        for k, rep in enumerate(group):
            t, p, src = series.model_progress(rep)
            data.update({"run%d_label" % k: np.array(labels[k]), "run%d_t_h" % k: style.hours(t),
                         "run%d_ppl" % k: p, "run%d_source" % k: src})
            ax_p.plot(style.hours(t), p, color=_RUN_COLORS[k % 4], ls=_RUN_STYLES[k % 4],
                      lw=1.3, label="%s, %s loss" % (labels[k], rep.loss_kind))
            end_h = max(end_h, style.hours(series.signal_end_s(rep)))
        ax_t.set_yticks([-y for y in range(len(rows))])
        ax_t.set_yticklabels(["%s\n%s" % (name, labels[k]) for name, k in rows], fontsize=6.5)
        ax_t.set_ylim(-len(rows) + 0.5, 0.5)
        ax_t.grid(axis="y", visible=False)
        ax_t.tick_params(labelbottom=False)
        handles = _legend_handles(group, group[0].policy.get("threshold_g_per_kwh"))
        ax_t.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0),
                    ncol=(len(handles) + 1) // 2, handlelength=1.2, columnspacing=0.9)
        style.perplexity_axis(ax_p)
        ax_p.set_ylabel("perplexity")
        ax_p.set_xlabel(style.time_label(group[0].t0_unix_s))
        style.hour_axis(ax_p, end_h)
        ax_p.legend(loc="upper right")
        style.title(
            fig,
            "Fig. 6. %s: %s. Schedules (top, one row per site and run) and perplexity of the "
            "global model (bottom)." % (group[0].scenario, " vs ".join(labels)),
            style.DOUBLE_IN,
        )
        out.append((group[0].scenario, fig, data))
    return out

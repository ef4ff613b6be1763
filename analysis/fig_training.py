"""fig_training.py - the study's training figures: carbon intensity above per-site loss
(figure 1) and the perplexity of the global model for each kind of run (figure 2).

Each function takes the Roles of the reports and a Context, and returns (figure, data) where
data maps names to the exact arrays drawn (exported with --export-data), or raises Skip.
"""

import style  # first: it selects the Agg backend before pyplot loads
import series
from roles import Skip

from matplotlib.lines import Line2D
import matplotlib.pyplot as plt
import numpy as np


def _with_gaps(t, values, segments):
    """Copies of t and values with a NaN row between segments, so a line shows a gap there."""
    if len(t) == 0:
        return t, values
    cut = np.nonzero(np.diff(segments))[0] + 1
    return np.insert(t, cut, np.nan), np.insert(values, cut, np.nan)


def _step_line(t_s, values, end_s):
    """(t, v) that draw a step series with drawstyle steps-post, the last value held to end_s."""
    return np.append(t_s, max(end_s, t_s[-1])), np.append(values, values[-1])


def loss_and_mci(roles, ctx):
    """Figure 1: MCI per region with the threshold (top); per-site loss, raw and EMA (bottom)."""
    rep = roles.aware
    if rep is None:
        raise Skip("needs a curtailment-aware report")
    data = {}
    fig, (ax_mci, ax_loss) = plt.subplots(
        2, 1, sharex=True, figsize=(style.DOUBLE_IN, 4.6), gridspec_kw={"height_ratios": [1, 1.25]},
        layout="constrained",
    )
    end_s = series.signal_end_s(rep)
    data["end_h"] = np.array(style.hours(end_s))
    data["run_end_h"] = np.array(style.hours(rep.end_s))
    regions = list(dict.fromkeys(s.region for s in rep.sites))
    for region in regions:
        if region not in rep.signals:
            ctx.note("fig1: %s has no signal for region %s" % (rep.path, region))
            continue
        t_s, mci = rep.signals[region]
        data["signal_%s_t_h" % region] = style.hours(t_s)
        data["signal_%s_mci_g_per_kwh" % region] = mci
        if len(t_s):
            x, y = _step_line(t_s, mci, end_s)
            ax_mci.plot(style.hours(x), y, drawstyle="steps-post", label=region,
                        color=ctx.palette.region(region))
    threshold = rep.policy.get("threshold_g_per_kwh")
    if isinstance(threshold, (int, float)):
        data["threshold_g_per_kwh"] = np.array(float(threshold))
        ax_mci.axhline(threshold, color=style.THRESHOLD_COLOR, ls="--", lw=1.0,
                       label="threshold %g" % threshold)
    ax_mci.set_ylabel("MCI (g%s/kWh)" % style.CO2)
    ax_mci.set_ylim(bottom=0)
    ax_mci.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))

    n = len(rep.sites)
    for s in rep.sites:
        # Sites in one round share the global model, so their lines can coincide: earlier
        # sites are drawn wider, underneath, so that every site stays visible.
        width = 1.2 + 0.9 * (n - 1 - s.index)
        t_s = s.train["t_s"].astype(float)
        loss = s.train["loss"].astype(float)
        seg = series.loss_segments(s, rep.end_s)
        smooth = series.ema(t_s, loss, seg, ctx.ema_tau_s)
        key = "site_%s_" % s.name
        data[key + "t_h"] = style.hours(t_s)
        data[key + "loss"] = loss
        data[key + "loss_ema"] = smooth
        data[key + "segment"] = seg
        color = ctx.palette.region(s.region)
        x, y = _with_gaps(style.hours(t_s), loss, seg)
        ax_loss.plot(x, y, color=color, lw=0.6, alpha=0.5, zorder=3)
        x, y = _with_gaps(style.hours(t_s), smooth, seg)
        ax_loss.plot(x, y, color=color, lw=width, label="%s (%s)" % (s.name, s.region), zorder=2)
    handles, _ = ax_loss.get_legend_handles_labels()
    handles += [
        Line2D([], [], color="0.4", lw=0.6, alpha=0.5, label="raw"),
        Line2D([], [], color="0.4", lw=1.4, label="EMA, %g min" % (ctx.ema_tau_s / 60)),
    ]
    ax_loss.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax_loss.set_ylabel("training loss (nat/token)")
    ax_loss.set_xlabel(style.time_label(rep.t0_unix_s))
    style.hour_axis(ax_loss, style.hours(end_s))
    style.title(
        fig,
        "Fig. 1. Marginal carbon intensity of each site's grid region with the curtailment "
        "threshold (top), and each site's training loss (%s), raw and smoothed, with gaps "
        "while the site is released (bottom). Run: %s (%s)."
        % (rep.loss_kind, rep.scenario, rep.mode),
        style.DOUBLE_IN,
    )
    fig.align_ylabels([ax_mci, ax_loss])
    return fig, data


def _curves(roles, ctx):
    """[(key, label, color, linestyle, report)] of the runs figure 2 compares, in draw order.
    Centralized runs do the same work whatever their region, so identical curves are grouped
    and drawn once (in a colour of their own when they stand for several regions)."""
    groups = []  # [t, ppl, regions, report]
    for region, rep in roles.central_in_order():
        t, p, _ = series.model_progress(rep)
        for g in groups:
            if len(g[0]) == len(t) and np.allclose(g[0], t) and np.allclose(g[1], p):
                g[2].append(region)
                break
        else:
            groups.append([t, p, [region], rep])
    out = []
    for _, _, regions, rep in groups:
        if len(regions) == 1:
            label, color = "centralized, %s" % regions[0], ctx.palette.region(regions[0])
        else:
            label, color = "centralized, any of %d regions" % len(regions), style.CENTRAL_COLOR
        out.append(("central_%s" % regions[0], label, color, "--", rep))
    if roles.federated is not None:
        out.append(("federated", "always federated, %d sites" % len(roles.federated.sites),
                    style.FEDERATED_COLOR, "-", roles.federated))
    out.append(("aware", "curtailment-aware", style.AWARE_COLOR, "-", roles.aware))
    return out


def perplexity(roles, ctx):
    """Figure 2: perplexity of the global model over time for each kind of run."""
    if roles.aware is None:
        raise Skip("needs a curtailment-aware report")
    if not roles.central and roles.federated is None:
        raise Skip("needs a centralized (-central-<REGION>) or federated (-federated2) report")
    data = {}
    for region, rep in roles.central_in_order():
        t, p, src = series.model_progress(rep)
        data.update({"central_%s_t_h" % region: style.hours(t), "central_%s_ppl" % region: p,
                     "central_%s_source" % region: src})
    fig, ax = plt.subplots(figsize=(style.SINGLE_IN, 3.3), layout="constrained")
    curves = _curves(roles, ctx)
    for key, label, color, ls, rep in curves:
        t, p, src = series.model_progress(rep)
        data.update({key + "_t_h": style.hours(t), key + "_ppl": p, key + "_source": src})
        final = " (final %.2f)" % p[-1] if len(p) else ""
        ax.plot(style.hours(t), p, color=color, ls=ls, label=label + final,
                lw=1.5 if key == "aware" else 1.1)
    style.perplexity_axis(ax)
    ax.set_ylabel("perplexity")
    ax.set_xlabel(style.time_label(roles.aware.t0_unix_s))
    style.hour_axis(ax, max(style.hours(c[-1].end_s) for c in curves))
    ax.legend(loc="upper left", bbox_to_anchor=(-0.02, -0.2), borderaxespad=0.0)
    style.title(
        fig,
        "Fig. 2. Perplexity (%s) of the global model over time: centralized, always "
        "federated and curtailment-aware training of %s."
        % (roles.aware.loss_kind, roles.aware.scenario),
        style.SINGLE_IN,
    )
    return fig, data

"""fig_energy.py - the study's energy and carbon figures: power and emission rate over time
(figure 3) and total emissions and curtailed-energy share per run (figure 4).

Each function takes the Roles of the reports and a Context, and returns (figure, data) where
data maps names to the exact arrays drawn (exported with --export-data), or raises Skip.
"""

import style  # first: it selects the Agg backend before pyplot loads
import series
from roles import Skip

import matplotlib.pyplot as plt
import numpy as np


def _runs(roles, ctx):
    """[(key, label, color, linestyle, linewidth, report)]: centralized runs, the federated one,
    then the curtailment-aware one (drawn last, on top)."""
    out = [
        ("central_%s" % region, "centralized, %s" % region, ctx.palette.region(region), "--",
         1.0, rep)
        for region, rep in roles.central_in_order()
    ]
    if roles.federated is not None:
        out.append(("federated", "always federated, %d sites" % len(roles.federated.sites),
                    style.FEDERATED_COLOR, "-.", 1.0, roles.federated))
    out.append(("aware", "curtailment-aware", style.AWARE_COLOR, "-", 1.4, roles.aware))
    return out


def _reports(roles):
    """Every report the roles hold, aware first."""
    reps = [roles.aware] + [r for _, r in roles.central_in_order()] + [roles.federated]
    return [r for r in reps if r is not None]


def _signal_pool(rep, roles):
    """Signals for the sites of `rep`: its own, completed from the other reports given (a
    report stores only the signals of its own sites' regions)."""
    pool = {}
    for other in [rep] + _reports(roles):
        for region, sig in other.signals.items():
            pool.setdefault(region, sig)
    return pool


def power_emissions(roles, ctx):
    """Figure 3: total power, emission rate and cumulative emissions over time per run."""
    if roles.aware is None:
        raise Skip("needs a curtailment-aware report")
    if not roles.central:
        raise Skip("needs at least one centralized (-central-<REGION>) report")
    fig, (ax_p, ax_e, ax_c) = plt.subplots(3, 1, sharex=True, figsize=(style.DOUBLE_IN, 5.6),
                                           layout="constrained")
    data = {"bin_h": np.array(style.hours(ctx.bin_s))}
    end_h = 0.0
    for key, label, color, ls, lw, rep in _runs(roles, ctx):
        try:
            t, power_w, rate, cumulative = series.power_and_emissions(rep, _signal_pool(rep, roles))
        except series.MissingSignal as e:
            ctx.note("fig3: %s; run left out" % e)
            continue
        if rep.end_s <= 0:
            ctx.note("fig3: %s: the run has no duration; left out" % rep.path)
            continue
        b0, b1, power_avg = series.bin_average(t, power_w, rep.end_s, ctx.bin_s)
        _, _, rate_avg = series.bin_average(t, rate, rep.end_s, ctx.bin_s)
        data.update({
            key + "_t_h": style.hours(t),
            key + "_power_kw": power_w / 1000.0,
            key + "_emission_kg_per_h": rate,
            key + "_cumulative_kg": cumulative,
            key + "_carbon_kg_summary": np.array(rep.summary["carbon_kg"]),
            key + "_bin_start_h": style.hours(b0),
            key + "_bin_end_h": style.hours(b1),
            key + "_power_kw_avg": power_avg / 1000.0,
            key + "_emission_kg_per_h_avg": rate_avg,
        })
        kw = {"color": color, "ls": ls, "lw": lw}
        # Bin averages as steps: each value held over its bin, the last one to the run's end.
        x = style.hours(np.append(b0, b1[-1]))
        ax_p.plot(x, np.append(power_avg, power_avg[-1]) / 1000.0, drawstyle="steps-post",
                  label=label, **kw)
        ax_e.plot(x, np.append(rate_avg, rate_avg[-1]), drawstyle="steps-post", **kw)
        ax_c.plot(style.hours(t), cumulative, **kw)
        end_h = max(end_h, style.hours(t[-1]))
    minutes = "%g-min" % (ctx.bin_s / 60)
    ax_p.set_ylabel("power (kW)")
    ax_e.set_ylabel("emissions (kg%s/h)" % style.CO2)
    ax_c.set_ylabel("cumulative (kg%s)" % style.CO2)
    for ax in (ax_p, ax_e, ax_c):
        ax.set_ylim(bottom=0)
    ax_p.legend(loc="lower center", bbox_to_anchor=(0.5, 1.02), ncol=3, borderaxespad=0.0)
    ax_c.set_xlabel(style.time_label(roles.aware.t0_unix_s))
    style.hour_axis(ax_c, end_h)
    style.title(
        fig,
        "Fig. 3. Power drawn by all sites (top) and emission rate with the marginal carbon "
        "intensity of each site's region (middle), as %s means, and cumulative emissions "
        "(bottom): curtailment-aware training of %s against the baselines. A line ends when "
        "its run ends." % (minutes, roles.aware.scenario),
        style.DOUBLE_IN,
    )
    fig.align_ylabels([ax_p, ax_e, ax_c])
    return fig, data


def _bars(roles, ctx):
    """[(label, color, carbon_kg, curtailed_fraction, source)] of figure 4, in draw order.
    A baseline not given as a report still gets its emissions bar from the curtailment-aware
    report's summary extras (carbon_kg_baseline_<name>), with its share unknown (NaN)."""
    extras = {k[len("carbon_kg_baseline_"):]: v for k, v in roles.aware.summary.items()
              if k.startswith("carbon_kg_baseline_")}
    regions = [r for r, _ in roles.central_in_order()]
    for name in extras:
        if name.startswith("central-") and name[len("central-"):] not in regions:
            regions.append(name[len("central-"):])
    bars = []
    for region in regions:
        rep = roles.central.get(region)
        if rep is not None:
            bars.append((region, ctx.palette.region(region), rep.summary["carbon_kg"],
                         rep.summary["curtailed_energy_fraction"], rep.path))
        else:
            bars.append((region, ctx.palette.region(region), extras["central-" + region], np.nan,
                         roles.aware.path + ":/summary"))
    fed = roles.federated
    if fed is not None:
        bars.append(("federated, %d sites" % len(fed.sites), style.FEDERATED_COLOR,
                     fed.summary["carbon_kg"], fed.summary["curtailed_energy_fraction"], fed.path))
    elif "federated2" in extras:
        bars.append(("federated, 2 sites", style.FEDERATED_COLOR, extras["federated2"], np.nan,
                     roles.aware.path + ":/summary"))
    a = roles.aware
    bars.append(("curtailment-aware", style.AWARE_COLOR, a.summary["carbon_kg"],
                 a.summary["curtailed_energy_fraction"], a.path))
    return bars


def emission_bars(roles, ctx):
    """Figure 4: total emissions and share of energy inside curtailment windows per run."""
    if roles.aware is None:
        raise Skip("needs a curtailment-aware report")
    bars = _bars(roles, ctx)
    if len(bars) < 2:
        raise Skip("needs a centralized or federated report, or a curtailment-aware report "
                   "whose summary holds baseline emissions (spillway sim --baselines)")
    labels = [b[0] for b in bars]
    colors = [b[1] for b in bars]
    carbon = np.array([b[2] for b in bars], dtype=float)
    share = np.array([b[3] for b in bars], dtype=float)
    data = {"labels": np.array(labels), "carbon_kg": carbon,
            "curtailed_energy_fraction": share, "source": np.array([b[4] for b in bars])}
    fig, (ax_c, ax_s) = plt.subplots(1, 2, figsize=(style.DOUBLE_IN, 3.0), layout="constrained")
    x = np.arange(len(bars))
    ax_c.bar(x, carbon, color=colors, width=0.7)
    for xi, v in zip(x, carbon):
        ax_c.annotate("%.2f" % v, (xi, v), xytext=(0, 2), textcoords="offset points",
                      ha="center", va="bottom", fontsize=6.5)
    ax_c.set_ylabel("emissions (kg%s)" % style.CO2)
    ax_c.set_ylim(0, np.nanmax(carbon) * 1.15)
    ax_s.bar(x, np.nan_to_num(share) * 100.0, color=colors, width=0.7)
    for xi, v in zip(x, share):
        text = "n/a" if np.isnan(v) else "%.0f%%" % (v * 100.0)
        ax_s.annotate(text, (xi, 0 if np.isnan(v) else v * 100.0), xytext=(0, 2),
                      textcoords="offset points", ha="center", va="bottom", fontsize=6.5)
    ax_s.set_ylabel("energy in curtailment windows (%)")
    ax_s.set_ylim(0, 110)
    for ax in (ax_c, ax_s):
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=30, ha="right", rotation_mode="anchor")
        ax.grid(axis="x", visible=False)
    style.title(
        fig,
        "Fig. 4. Total emissions with the marginal signal (left) and share of the energy used "
        "inside curtailment windows (right): centralized training in each region, the "
        "always-federated baseline and curtailment-aware training of %s." % roles.aware.scenario,
        style.DOUBLE_IN,
    )
    return fig, data

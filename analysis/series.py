"""series.py - the derived time series the figures plot, computed from a loaded report.

Pure functions of numpy arrays and report.Report objects: no drawing here, so each quantity a
figure shows can be tested against the report on its own. Times are seconds since the start of
the run unless a name says `_h` (hours).
"""

import numpy as np

OFF_STATES = ("off", "failed")  # states in which a site holds no model: its loss line breaks


def step_at(t_rows, v_rows, t_query, before=np.nan):
    """Values of the step series (t_rows, v_rows) at times t_query: row i holds on
    [t_rows[i], t_rows[i+1]), two rows at the same time -> the later wins; `before` where
    t_query precedes the first row."""
    t_query = np.asarray(t_query, dtype=float)
    if len(t_rows) == 0:
        return np.full_like(t_query, before)
    idx = np.searchsorted(t_rows, t_query, side="right") - 1
    return np.where(idx >= 0, np.asarray(v_rows, dtype=float)[np.clip(idx, 0, None)], before)


def intervals(t_rows, values, keep, end_s):
    """[(start_s, end_s, value)] of the step series where keep(value) holds, zero-length rows
    dropped, adjacent kept rows merged when their values are equal; the last row lasts to end_s."""
    out = []
    n = len(t_rows)
    for i in range(n):
        a = float(t_rows[i])
        b = float(t_rows[i + 1]) if i + 1 < n else max(end_s, a)
        if b <= a or not keep(values[i]):
            continue
        if out and out[-1][1] == a and out[-1][2] == values[i]:
            out[-1] = (out[-1][0], b, values[i])
        else:
            out.append((a, b, values[i]))
    return out


def curtailment_windows(t_s, mci_g_per_kwh, threshold_g_per_kwh, end_s):
    """[(start_s, end_s)] where the signal is strictly under the threshold (the study's
    definition of a curtailment window, before any hysteresis), merged."""
    under = [bool(v < threshold_g_per_kwh) for v in mci_g_per_kwh]
    return [(a, b) for a, b, _ in intervals(t_s, under, lambda u: u, end_s)]


def signal_end_s(report):
    """Where signal plots stop: the run's end, or the last stored signal row if later."""
    last = max((float(t[-1]) for t, _ in report.signals.values() if len(t)), default=0.0)
    return max(report.end_s, last)


def state_intervals(site, end_s):
    """[(start_s, end_s, state_name)] of a site's lifecycle timeline, zero-length rows dropped."""
    names = [site.state_names.get(int(s), str(int(s))) for s in site.states]
    return intervals(site.states_t_s, names, lambda _: True, end_s)


def loss_segments(site, end_s):
    """Segment id per /train row: rows i and i+1 are in different segments when the site was
    off or failed (released, so its line must show a gap) at some time between them."""
    t = site.train["t_s"].astype(float)
    seg = np.zeros(len(t), dtype=np.int64)
    if len(t) < 2:
        return seg
    gaps = [(a, b) for a, b, name in state_intervals(site, end_s) if name in OFF_STATES]
    breaks = np.zeros(len(t) - 1, dtype=bool)
    for a, b in gaps:
        breaks |= (a < t[1:]) & (b > t[:-1])
    seg[1:] = np.cumsum(breaks)
    return seg


def ema(t_s, values, segments, tau_s):
    """Time-aware exponential moving average restarted at each segment: the weight of a new
    point is 1 - exp(-dt / tau_s), so irregular log intervals (round boundaries, exec logs)
    smooth alike; the first point of a segment is its own average. NaN values are skipped."""
    out = np.full(len(values), np.nan)
    prev_t = prev = None
    prev_seg = None
    for i, (t, v, sg) in enumerate(zip(t_s, values, segments)):
        if sg != prev_seg:
            prev = None
            prev_seg = sg
        if np.isnan(v):
            out[i] = prev if prev is not None else np.nan
            continue
        if prev is None:
            prev = v
        else:
            w = 1.0 - np.exp(-max(t - prev_t, 0.0) / tau_s)
            prev = prev + w * (v - prev)
        prev_t = t
        out[i] = prev
    return out


def model_progress(report):
    """The global model's perplexity over time, as (t_s, ppl, source): every /global row
    (source 0) plus, during single-site rounds (n_sites == 1), the member's /train rows inside
    the round (source 1), where the one site's local model is the global model. Sorted by
    time, rows without a value (NaN) dropped."""
    t = [report.global_["t_s"].astype(float)]
    p = [report.global_["ppl"].astype(float)]
    src = [np.zeros(len(report.global_), dtype=np.int64)]
    for row in report.rounds:
        if int(row["n_sites"]) != 1:
            continue
        members = report.round_members(row)
        if len(members) != 1:
            continue
        tr = report.sites[members[0]].train
        inside = (tr["t_s"] >= row["t_start_s"]) & (tr["t_s"] <= row["t_end_s"])
        t.append(tr["t_s"][inside].astype(float))
        p.append(tr["ppl"][inside].astype(float))
        src.append(np.ones(int(inside.sum()), dtype=np.int64))
    t, p, src = np.concatenate(t), np.concatenate(p), np.concatenate(src)
    order = np.argsort(t, kind="stable")
    t, p, src = t[order], p[order], src[order]
    keep = ~np.isnan(p)
    return t[keep], p[keep], src[keep]


class MissingSignal(Exception):
    """A site's region has no signal in any report given."""


def power_and_emissions(report, signals):
    """Total power and emission rate of a run, exact for its step series.

    `signals` maps region -> (t_s, mci_g_per_kwh); a site's region must be in it. Returns
    (t_s, power_w, emission_kg_per_h, cumulative_kg): breakpoints from 0 to the run's end,
    the total power (before PUE) and the emission rate (power x PUE x MCI of each site's region)
    holding from each breakpoint on, and the emissions integrated up to each breakpoint, whose
    last value equals the report's carbon_kg up to rounding."""
    end = report.end_s
    points = [np.array([0.0, end])]
    for s in report.sites:
        if s.region not in signals:
            raise MissingSignal("%s: no signal for region %s of site %s"
                                % (report.path, s.region, s.name))
        points.append(s.power_t_s)
        points.append(signals[s.region][0])
    t = np.unique(np.concatenate(points))
    t = t[(t >= 0) & (t <= end)]
    power = np.zeros(len(t))
    rate = np.zeros(len(t))
    for s in report.sites:
        p = step_at(s.power_t_s, s.power_w, t, before=0.0)
        st, sv = signals[s.region]
        mci = step_at(st, sv, t, before=sv[0] if len(sv) else np.nan)
        power += p
        rate += p * s.pue * mci / 1e6  # W x gCO2/kWh = 1e-3 kW x g/kWh = 1e-3 g/h -> 1e-6 kg/h
    dt_h = np.diff(t) / 3600.0
    cumulative = np.concatenate([[0.0], np.cumsum(rate[:-1] * dt_h)])
    return t, power, rate, cumulative


def bin_average(t_s, values, end_s, bin_s):
    """Exact averages of the step series (t_s, values) over bins [k*bin_s, (k+1)*bin_s) up to
    end_s (the last bin may be shorter). Returns (bin_start_s, bin_end_s, average). A run whose
    power dips at every round boundary is unreadable at full resolution over hours; averages
    keep the energy of each bin exact."""
    t_s = np.asarray(t_s, dtype=float)
    values = np.asarray(values, dtype=float)
    knots = np.append(t_s, end_s)
    cumulative = np.concatenate([[0.0], np.cumsum(values * np.diff(knots))])
    edges = np.append(np.arange(0.0, end_s, bin_s), end_s)
    at_edges = np.interp(edges, knots, cumulative)
    return edges[:-1], edges[1:], np.diff(at_edges) / np.diff(edges)

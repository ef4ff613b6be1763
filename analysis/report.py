"""report.py - loads a spillway HDF5 report (docs/formats/report.md, format 1) for the figures.

The C reader (core/report.h) is the reference; this Python reader checks what the figures rely
on (root attributes, every group and table and the columns used) and loads the whole file into
numpy arrays, so that drawing never touches HDF5. Every failure is a ReportError whose message
names the file and the object, like the C reader's (`x.h5: /global: column 'ppl' missing`).
"""

import os

import h5py
import numpy as np

import scenario_text

FORMAT_VERSION = 1

# Columns each table must have (extra columns are allowed, as in the C reader).
_COLUMNS = {
    "signal": ("t_s", "mci_g_per_kwh"),
    "states": ("t_s", "state"),
    "power": ("t_s", "power_w"),
    "train": ("t_s", "step", "tokens", "loss", "ppl"),
    "rounds": ("round", "t_start_s", "t_end_s", "n_sites", "sites", "tokens", "loss", "ppl"),
    "events": ("t_s", "kind", "site", "round", "value", "detail"),
    "global": ("t_s", "tokens", "loss", "ppl"),
}
_SUMMARY_ATTRS = ("runtime_h", "energy_kwh", "curtailed_energy_fraction", "carbon_kg")


class ReportError(Exception):
    """Bad input: the message names the file and what is wrong with it."""


class Site:
    """One site of a report: name, index, region, gpus, pue (1.0 if the scenario lacks it),
    states (t_s, state as int), state_names (int -> name from the file's enum), power
    (t_s, power_w in W) and train (structured array with t_s, step, tokens, loss, ppl)."""

    def __init__(self, name, index, region, gpus):
        self.name, self.index, self.region, self.gpus = name, index, region, gpus
        self.pue = 1.0
        self.states_t_s = self.states = self.power_t_s = self.power_w = self.train = None
        self.state_names = {}


class Report:
    """A loaded report. Times are seconds since the start of the run; end_s = runtime_h * 3600.

    Attributes: path, mode ('sim'|'exec'), scenario (name), seed, t0_unix_s, yaml (resolved
    scenario text), policy (dict of the scenario's policy section), signals ({region: (t_s,
    mci_g_per_kwh)}), sites (list of Site in index order), rounds, global_, events (structured
    arrays as stored), event_kinds (int -> name), summary (dict of /summary attributes),
    loss_kind ('measured'|'modelled'), end_s.
    """

    def site(self, name):
        """The Site called `name`, or None."""
        for s in self.sites:
            if s.name == name:
                return s
        return None

    def round_members(self, row):
        """Site indices that were members of the /rounds row `row` (decodes the bitmask)."""
        words = row["sites"]
        return [
            i
            for i in range(len(self.sites))
            if (int(words[i // 64]) >> (i % 64)) & 1
        ]


def _fail(path, where, what):
    raise ReportError("%s: %s: %s" % (path, where, what))


def _table(f, path, name, kind):
    """The dataset `name` read as a structured array, after checking its columns."""
    if name not in f or not isinstance(f[name], h5py.Dataset):
        _fail(path, "/" + name, "dataset missing")
    ds = f[name]
    if ds.dtype.names is None:
        _fail(path, "/" + name, "not a table (compound dataset)")
    for col in _COLUMNS[kind]:
        if col not in ds.dtype.names:
            _fail(path, "/" + name, "column '%s' missing" % col)
    rows = ds[()]
    for col in ("t_s", "t_start_s"):
        if col in ds.dtype.names and len(rows) > 1 and np.any(np.diff(rows[col]) < 0):
            _fail(path, "/" + name, "'%s' goes back in time" % col)
    return rows


def _attr(obj, path, where, name):
    if name not in obj.attrs:
        _fail(path, where, "attribute '%s' missing" % name)
    value = obj.attrs[name]
    return value.decode() if isinstance(value, bytes) else value


def _enum_names(ds, column):
    mapping = h5py.check_enum_dtype(ds.dtype[column]) or {}
    return {int(v): k for k, v in mapping.items()}


def load(path):
    """Reads and checks the report at `path`; returns a Report or raises ReportError."""
    if not os.path.exists(path):
        raise ReportError("%s: no such file" % path)
    if os.path.isdir(path):
        raise ReportError("%s: is a directory, not a report" % path)
    if not h5py.is_hdf5(path):
        raise ReportError("%s: not an HDF5 file" % path)
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise ReportError(
            "%s: cannot open as HDF5 (truncated or damaged file, or still being written)" % path
        ) from None
    with f:
        return _load_open(f, path)


def _load_open(f, path):
    r = Report()
    r.path = path
    version = _attr(f, path, "/", "format_version")
    if int(version) != FORMAT_VERSION:
        _fail(path, "/", "format_version %s unknown (this reader knows %d)"
              % (version, FORMAT_VERSION))
    r.mode = str(_attr(f, path, "/", "mode"))
    if r.mode not in ("sim", "exec"):
        _fail(path, "/", "mode '%s' is neither sim nor exec" % r.mode)
    r.scenario = str(_attr(f, path, "/", "scenario"))
    r.seed = int(f.attrs.get("seed", 0))
    r.t0_unix_s = float(f.attrs.get("t0_unix_s", 0.0))
    for group in ("scenario", "signals", "sites", "summary"):
        if group not in f or not isinstance(f[group], h5py.Group):
            _fail(path, "/" + group, "group missing")
    r.yaml = str(_attr(f["scenario"], path, "/scenario", "yaml"))
    r.policy = scenario_text.section(r.yaml, "policy")

    r.summary = {}
    for name in _SUMMARY_ATTRS:
        _attr(f["summary"], path, "/summary", name)
    for name, value in f["summary"].attrs.items():
        if np.ndim(value) == 0 and isinstance(value, (int, float, np.number)):
            r.summary[name] = float(value)
    r.end_s = r.summary["runtime_h"] * 3600.0

    r.signals = {}
    for region in f["signals"]:
        rows = _table(f, path, "signals/" + region, "signal")
        r.signals[region] = (rows["t_s"].astype(float), rows["mci_g_per_kwh"].astype(float))

    order = [o.decode() if isinstance(o, bytes) else str(o)
             for o in _attr(f["sites"], path, "/sites", "order")]
    if not order:
        _fail(path, "/sites", "no sites")
    pue = {item.get("name"): item.get("pue") for item in scenario_text.site_items(r.yaml)}
    r.sites = []
    for i, name in enumerate(order):
        where = "/sites/" + name
        if name not in f["sites"]:
            _fail(path, where, "group missing")
        g = f["sites"][name]
        s = Site(name, i, str(_attr(g, path, where, "region")), int(g.attrs.get("gpus", 0)))
        if isinstance(pue.get(name), (int, float)):
            s.pue = float(pue[name])
        st = _table(f, path, "sites/%s/states" % name, "states")
        s.states_t_s, s.states = st["t_s"].astype(float), st["state"].astype(int)
        s.state_names = _enum_names(f["sites/%s/states" % name], "state")
        pw = _table(f, path, "sites/%s/power" % name, "power")
        s.power_t_s, s.power_w = pw["t_s"].astype(float), pw["power_w"].astype(float)
        s.train = _table(f, path, "sites/%s/train" % name, "train")
        r.sites.append(s)

    r.rounds = _table(f, path, "rounds", "rounds")
    r.global_ = _table(f, path, "global", "global")
    r.events = _table(f, path, "events", "events")
    r.event_kinds = _enum_names(f["events"], "kind")
    r.loss_kind = str(f["global"].attrs.get("loss_kind", "modelled"))
    return r

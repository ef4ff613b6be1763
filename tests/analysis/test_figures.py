"""test_figures.py - analysis/figures.py end to end on reports written by `spillway sim`.

A tiny two-region scenario is simulated (with its baselines, and a second time under another
file name for the sim-vs-sim comparison); figures.py draws every figure from the reports, and
the arrays it exports (--export-data) are checked against the reports read directly with h5py,
and against the hand-written trace. Bad input must give exit status 2 and name the file.

Run from the repository root: /usr/bin/python3 tests/analysis/test_figures.py (exit 77 =
skipped: h5py or the binary missing; under CI=true that fails instead)
The spillway binary is $SW_SPILLWAY, else build/spillway.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import require  # noqa: E402

try:
    import h5py
    import numpy as np
except ImportError:  # reported as a skip below, not as an error in the import
    h5py = np = None

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIGURES = os.path.join(ROOT, "analysis", "figures.py")
STEMS = ["fig1_loss_mci", "fig2_perplexity", "fig3_power_emissions", "fig4_emissions_bars",
         "fig5_timeline", "fig6_compare_tiny"]

# Region A is under the threshold (100 gCO2/kWh) on [0, 1 h) and [2 h, 3 h), region B on
# [0.5 h, 2.5 h); the trace has 5-minute rows over 6 h from 2026-01-01 00:00 UTC.
A_WINDOWS_H = [(0.0, 1.0), (2.0, 3.0)]
B_WINDOWS_H = [(0.5, 2.5)]


def _mci(t_s):
    a = 10.0 if (t_s < 3600 or 7200 <= t_s < 10800) else 500.0
    b = 20.0 if 1800 <= t_s < 9000 else 400.0
    return a, b


TRACE = "time,A,B\n" + "".join(
    "2026-01-01T%02d:%02d:00Z,%g,%g\n" % (t // 3600, t // 60 % 60, *_mci(t))
    for t in range(0, 6 * 3600, 300)
)

SCENARIO = """\
name: tiny
trace: { file: tiny.csv, baseline_regions: [A, B] }
policy: { kind: threshold, threshold_g_per_kwh: 100, deprovision_after_s: 300, poll_s: 10 }
rounds: { min_duration_s: 600, startup_s: 30, return_s: 20, aggregate_s: 2 }
model: { params: 1e6, tokens: 1e9, batch_tokens: 100000, step_s: 1, log_interval_s: 120 }
network: { wan_gbps: 10, wan_latency_ms: 10 }
sites:
  - { name: alpha, region: A, provision_s: 240, drain_s: 30, power_w: { train: 2000, idle: 500 } }
  - { name: beta, region: B, provision_s: 120, drain_s: 30, power_w: { train: 1000, idle: 300 } }
"""


def spillway_binary():
    path = os.environ.get("SW_SPILLWAY") or os.path.join(ROOT, "build", "spillway")
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def run_figures(*args):
    """Runs figures.py with the test's Python; returns (exit status, stdout, stderr)."""
    p = subprocess.run([sys.executable, FIGURES, *args], capture_output=True, text=True,
                       cwd=ROOT, timeout=300)
    return p.returncode, p.stdout, p.stderr


def table(path, name):
    with h5py.File(path, "r") as f:
        return f[name][()]


def summary(path):
    with h5py.File(path, "r") as f:
        return dict(f["summary"].attrs)


def state_names(path, site):
    with h5py.File(path, "r") as f:
        mapping = h5py.check_enum_dtype(f["sites/%s/states" % site].dtype["state"])
    return {v: k for k, v in mapping.items()}


class FiguresTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if h5py is None:
            require.missing("python3-h5py and python3-numpy (/usr/bin/python3)")
        binary = spillway_binary()
        if binary is None:
            require.missing("the spillway binary (set SW_SPILLWAY or build build/spillway)")
        cls.tmp = tempfile.mkdtemp(prefix="sw-test-figures-")
        with open(os.path.join(cls.tmp, "tiny.csv"), "w") as f:
            f.write(TRACE)
        with open(os.path.join(cls.tmp, "tiny.yaml"), "w") as f:
            f.write(SCENARIO)
        out = os.path.join(cls.tmp, "out")
        for args in (["--baselines", "-o", os.path.join(out, "tiny.h5")],
                     ["-o", os.path.join(out, "tiny-again.h5")]):
            p = subprocess.run([binary, "sim", os.path.join(cls.tmp, "tiny.yaml"), "--quiet",
                                *args], capture_output=True, text=True, timeout=120)
            if p.returncode != 0:
                raise AssertionError("spillway sim failed (%d): %s" % (p.returncode, p.stderr))
        cls.aware = os.path.join(out, "tiny.h5")
        cls.again = os.path.join(out, "tiny-again.h5")
        cls.central = {r: os.path.join(out, "tiny-central-%s.h5" % r) for r in ("A", "B")}
        cls.federated = os.path.join(out, "tiny-federated2.h5")
        cls.figs = os.path.join(cls.tmp, "figs")
        cls.data = os.path.join(cls.tmp, "data")
        # Given in a scrambled order: the roles come from the contents, not the order.
        cls.rc, cls.stdout, cls.stderr = run_figures(
            cls.federated, cls.central["B"], cls.aware, cls.central["A"], cls.again,
            "-o", cls.figs, "--export-data", cls.data)

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "tmp"):
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def npz(self, stem):
        with np.load(os.path.join(self.data, stem + ".npz")) as z:
            return {k: z[k] for k in z.files}

    # --- every figure is drawn -------------------------------------------------------------

    def test_every_figure_written_as_png_and_pdf(self):
        self.assertEqual(self.rc, 0, self.stderr)
        for stem in STEMS:
            with open(os.path.join(self.figs, stem + ".png"), "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", stem)
            with open(os.path.join(self.figs, stem + ".pdf"), "rb") as f:
                self.assertEqual(f.read(5), b"%PDF-", stem)
            self.assertTrue(os.path.isfile(os.path.join(self.data, stem + ".npz")), stem)
        self.assertEqual(sorted(os.listdir(self.figs)),
                         sorted([s + ".png" for s in STEMS] + [s + ".pdf" for s in STEMS]),
                         "no temporary or extra files")

    # --- figure 1: MCI and per-site loss -----------------------------------------------------

    def test_fig1_signals_are_the_reports(self):
        d = self.npz("fig1_loss_mci")
        for region in ("A", "B"):
            sig = table(self.aware, "signals/" + region)
            np.testing.assert_allclose(d["signal_%s_t_h" % region] * 3600, sig["t_s"], rtol=1e-12)
            np.testing.assert_array_equal(d["signal_%s_mci_g_per_kwh" % region],
                                          sig["mci_g_per_kwh"])
        self.assertEqual(float(d["threshold_g_per_kwh"]), 100.0)

    def test_fig1_losses_are_the_reports_with_gaps_where_released(self):
        d = self.npz("fig1_loss_mci")
        for site in ("alpha", "beta"):
            train = table(self.aware, "sites/%s/train" % site)
            np.testing.assert_allclose(d["site_%s_t_h" % site] * 3600, train["t_s"], rtol=1e-12)
            np.testing.assert_array_equal(d["site_%s_loss" % site], train["loss"])
            # A segment break exactly where the site was off between two log points.
            states = table(self.aware, "sites/%s/states" % site)
            names = state_names(self.aware, site)
            seg = d["site_%s_segment" % site]
            for i in range(len(train) - 1):
                t0, t1 = train["t_s"][i], train["t_s"][i + 1]
                off_between = any(names[s] == "off" and t0 < t < t1 for t, s in states)
                self.assertEqual(seg[i + 1] != seg[i], off_between, "%s row %d" % (site, i))
            # The smoothed loss starts each segment at the raw value and stays within its range.
            ema = d["site_%s_loss_ema" % site]
            for k in np.unique(seg):
                rows = seg == k
                self.assertEqual(ema[rows][0], train["loss"][rows][0])
                self.assertTrue(np.all(ema[rows] <= train["loss"][rows].max() + 1e-12))
                self.assertTrue(np.all(ema[rows] >= train["loss"][rows].min() - 1e-12))
        # alpha is released at the end of A's first window and comes back in the second.
        self.assertEqual(len(np.unique(d["site_alpha_segment"])), 2)
        self.assertEqual(len(np.unique(d["site_beta_segment"])), 1)

    # --- figure 2: perplexity ----------------------------------------------------------------

    def test_fig2_curves_come_from_global_and_single_site_training(self):
        d = self.npz("fig2_perplexity")
        runs = {"aware": self.aware, "federated": self.federated,
                "central_A": self.central["A"], "central_B": self.central["B"]}
        for key, path in runs.items():
            g = table(path, "global")
            t, ppl, src = d[key + "_t_h"] * 3600, d[key + "_ppl"], d[key + "_source"]
            np.testing.assert_allclose(t[src == 0], g["t_s"], rtol=1e-12, err_msg=key)
            np.testing.assert_array_equal(ppl[src == 0], g["ppl"], err_msg=key)
            self.assertTrue(np.all(np.diff(t) >= 0), key)
            with h5py.File(path, "r") as f:
                train_points = {(float(r["t_s"]), float(r["ppl"]))
                                for s in f["sites"] for r in f["sites/%s/train" % s][()]}
            # Every other point is a row of a site's training log (t_h * 3600 rounds t_s).
            for ti, pi in zip(t[src == 1], ppl[src == 1]):
                self.assertTrue(any(abs(a - ti) < 1e-6 and b == pi for a, b in train_points), key)
            self.assertAlmostEqual(ppl[-1], summary(path)["final_ppl"], places=9, msg=key)
        # Centralized: one site trains alone all the time, so its whole log is the curve.
        train = table(self.central["A"], "sites/central-A/train")
        self.assertEqual(int((d["central_A_source"] == 1).sum()), len(train))

    # --- figure 3: power and emissions -------------------------------------------------------

    def test_fig3_emissions_and_energy_match_the_summaries(self):
        d = self.npz("fig3_power_emissions")
        runs = {"aware": self.aware, "federated": self.federated,
                "central_A": self.central["A"], "central_B": self.central["B"]}
        for key, path in runs.items():
            s = summary(path)
            t_h = d[key + "_t_h"]
            self.assertEqual(t_h[0], 0.0)
            self.assertAlmostEqual(t_h[-1], s["runtime_h"], places=9)
            # The ledger (in the summary) and the plotted series are computed independently.
            self.assertAlmostEqual(d[key + "_cumulative_kg"][-1] / s["carbon_kg"], 1.0, places=6,
                                   msg=key)
            energy_kwh = np.sum(d[key + "_power_kw"][:-1] * np.diff(t_h))
            self.assertAlmostEqual(energy_kwh / s["energy_kwh"], 1.0, places=6, msg=key)  # PUE 1
            widths = d[key + "_bin_end_h"] - d[key + "_bin_start_h"]
            self.assertAlmostEqual(np.sum(d[key + "_power_kw_avg"] * widths) / s["energy_kwh"], 1.0,
                                   places=6, msg=key)
            carbon_kg = np.sum(d[key + "_emission_kg_per_h_avg"] * widths)
            self.assertAlmostEqual(carbon_kg / s["carbon_kg"], 1.0, places=6, msg=key)
        # Power of the centralized run in A is 0 before the trace, then the site's states' power.
        power = table(self.central["A"], "sites/central-A/power")
        last = power["power_w"][power["t_s"] <= 0.5 * 3600][-1]
        t_h = d["central_A_t_h"]
        at = np.searchsorted(t_h, 0.5, side="right") - 1
        self.assertEqual(d["central_A_power_kw"][at] * 1000, last)

    # --- figure 4: bars ----------------------------------------------------------------------

    def test_fig4_bars_are_the_summaries(self):
        d = self.npz("fig4_emissions_bars")
        self.assertEqual(list(d["labels"]), ["A", "B", "federated, 2 sites", "curtailment-aware"])
        paths = [self.central["A"], self.central["B"], self.federated, self.aware]
        np.testing.assert_array_equal(d["carbon_kg"], [summary(p)["carbon_kg"] for p in paths])
        np.testing.assert_array_equal(d["curtailed_energy_fraction"],
                                      [summary(p)["curtailed_energy_fraction"] for p in paths])

    # --- figure 5: timeline ------------------------------------------------------------------

    def test_fig5_states_windows_and_rounds(self):
        d = self.npz("fig5_timeline")
        for site in ("alpha", "beta"):
            states = table(self.aware, "sites/%s/states" % site)
            np.testing.assert_allclose(d["site_%s_t_h" % site] * 3600, states["t_s"], rtol=1e-12)
            np.testing.assert_array_equal(d["site_%s_state" % site], states["state"])
        # Windows from the trace written above (the report's signal, MCI < 100), which the
        # report stores up to the end of the run.
        with h5py.File(self.aware, "r") as f:
            end_h = float(f["summary"].attrs["runtime_h"])
        for region, windows in (("A", A_WINDOWS_H), ("B", B_WINDOWS_H)):
            expected = [(a, min(b, end_h)) for a, b in windows if a < end_h]
            got = list(zip(d["window_%s_start_h" % region], d["window_%s_end_h" % region]))
            np.testing.assert_allclose(got, expected, atol=1e-12, err_msg=region)
        rounds = table(self.aware, "rounds")
        np.testing.assert_allclose(d["round_start_h"] * 3600, rounds["t_start_s"], rtol=1e-12)
        # Each round's start is marked on the row of every member site.
        for r in rounds:
            for i, site in enumerate(("alpha", "beta")):
                if (int(r["sites"][0]) >> i) & 1:
                    self.assertTrue(np.any(np.isclose(d["site_%s_round_bounds_h" % site] * 3600,
                                                      r["t_start_s"])))

    # --- figure 6: two reports of one scenario -----------------------------------------------

    def test_fig6_overlays_both_runs_labelled_by_mode(self):
        d = self.npz("fig6_compare_tiny")
        self.assertEqual(str(d["run0_label"]), "sim (tiny.h5)")
        self.assertEqual(str(d["run1_label"]), "sim (tiny-again.h5)")
        for k, path in enumerate((self.aware, self.again)):
            g = table(path, "global")
            np.testing.assert_array_equal(d["run%d_ppl" % k][d["run%d_source" % k] == 0], g["ppl"])
            states = table(path, "sites/beta/states")
            np.testing.assert_array_equal(d["run%d_site_beta_state" % k], states["state"])
        self.assertIn("second curtailment-aware report", self.stderr)

    # --- fewer reports: figures skipped, not failed ------------------------------------------

    def test_aware_report_alone_draws_what_it_can(self):
        figs = os.path.join(self.tmp, "alone")
        data = os.path.join(self.tmp, "alone-data")
        rc, out, err = run_figures(self.aware, "-o", figs, "--export-data", data,
                                   "--formats", "png")
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(os.listdir(figs)),
                         ["fig1_loss_mci.png", "fig4_emissions_bars.png", "fig5_timeline.png"])
        for stem in ("fig2_perplexity", "fig3_power_emissions", "fig6_compare"):
            self.assertIn("%s (" % stem, err)
            self.assertIn("skipped", err)
        # Figure 4 takes the baselines' emissions from the summary extras; their share is unknown.
        with np.load(os.path.join(data, "fig4_emissions_bars.npz")) as z:
            s = summary(self.aware)
            np.testing.assert_array_equal(
                z["carbon_kg"],
                [s["carbon_kg_baseline_central-A"], s["carbon_kg_baseline_central-B"],
                 s["carbon_kg_baseline_federated2"], s["carbon_kg"]])
            self.assertTrue(np.all(np.isnan(z["curtailed_energy_fraction"][:3])))

    def test_baseline_alone_is_an_input_error(self):
        figs = os.path.join(self.tmp, "none")
        rc, _, err = run_figures(self.central["A"], "-o", figs)
        self.assertEqual(rc, 2)
        self.assertIn("none of the figures", err)

    # --- bad input ---------------------------------------------------------------------------

    def assert_bad_input(self, path, words):
        figs = os.path.join(self.tmp, "bad-out")
        rc, out, err = run_figures(self.aware, path, "-o", figs)
        self.assertEqual(rc, 2, err)
        self.assertIn(path, err)
        for w in words:
            self.assertIn(w, err)
        self.assertFalse(os.path.exists(figs), "no output on bad input")

    def test_missing_file(self):
        self.assert_bad_input(os.path.join(self.tmp, "nope.h5"), ["no such file"])

    def test_not_hdf5(self):
        path = os.path.join(self.tmp, "text.h5")
        with open(path, "w") as f:
            f.write("not a report\n")
        self.assert_bad_input(path, ["not an HDF5 file"])

    def test_hdf5_but_not_a_report(self):
        path = os.path.join(self.tmp, "other.h5")
        with h5py.File(path, "w") as f:
            f["x"] = np.arange(3)
        self.assert_bad_input(path, ["/", "format_version", "missing"])

    def test_report_without_a_table(self):
        path = os.path.join(self.tmp, "cut.h5")
        shutil.copy(self.aware, path)
        with h5py.File(path, "a") as f:
            del f["sites/beta/power"]
        self.assert_bad_input(path, ["/sites/beta/power", "dataset missing"])

    def test_report_with_a_missing_column(self):
        path = os.path.join(self.tmp, "nocol.h5")
        shutil.copy(self.aware, path)
        with h5py.File(path, "a") as f:
            rows = f["global"][()]
            del f["global"]
            f["global"] = rows[["t_s", "tokens", "loss"]]
        self.assert_bad_input(path, ["/global", "column 'ppl' missing"])

    def test_help_and_usage(self):
        rc, out, _ = run_figures("--help")
        self.assertEqual(rc, 0)
        self.assertIn("--export-data", out)
        rc, _, err = run_figures(self.aware, "--only", "9")
        self.assertEqual(rc, 2)
        self.assertIn("--only", err)


if __name__ == "__main__":
    require.main()

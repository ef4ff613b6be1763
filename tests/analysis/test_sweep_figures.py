"""test_sweep_figures.py - analysis/fig_sweep.py on a sweep table written by `spillway sweep`.

A small sweep of scenarios/paper.yaml (threshold x hysteresis x site count, 8 points) is run;
fig_sweep.py (directly and through figures.py) draws the Pareto and heat-map figures, and the
arrays it exports (--export-data) are checked against the table read with h5py: every point
plotted with its own figures, the front equal to a brute-force Pareto set, each heat-map cell
the mean of the points with its two values. Bad input must give exit status 2.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/analysis
"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

try:
    import h5py
    import numpy as np
except ImportError:
    h5py = np = None

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIG_SWEEP = os.path.join(ROOT, "analysis", "fig_sweep.py")
FIGURES = os.path.join(ROOT, "analysis", "figures.py")

SWEEP = """\
base: %s/scenarios/paper.yaml
name: small
grid:
  policy.threshold_g_per_kwh: [80, 120]
  policy.deprovision_after_s: [0, 600]
  sites.count: [1, 3]
"""


def spillway_binary():
    path = os.environ.get("SW_SPILLWAY") or os.path.join(ROOT, "build", "spillway")
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def run(script, *args):
    p = subprocess.run([sys.executable, script, *args], capture_output=True, text=True,
                       cwd=ROOT, timeout=300)
    return p.returncode, p.stdout, p.stderr


@unittest.skipIf(h5py is None, "needs python3-h5py and python3-numpy (/usr/bin/python3)")
@unittest.skipIf(spillway_binary() is None, "no spillway binary (build it first)")
class SweepFigures(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sw-test-sweepfig-")
        sweep = os.path.join(cls.tmp, "small.yaml")
        with open(sweep, "w") as f:
            f.write(SWEEP % ROOT)
        cls.out = os.path.join(cls.tmp, "out")
        p = subprocess.run([spillway_binary(), "sweep", sweep, "-j", "2", "-o", cls.out,
                            "--quiet"], capture_output=True, text=True, timeout=300)
        if p.returncode != 0:
            raise AssertionError("spillway sweep failed: " + p.stderr)
        cls.table = os.path.join(cls.out, "sweep.h5")
        with h5py.File(cls.table, "r") as f:
            cls.rows = f["sweep"][()]
        cls.data = os.path.join(cls.tmp, "data")
        rc, out, err = run(FIG_SWEEP, cls.table, "-o", os.path.join(cls.tmp, "fig"),
                           "--export-data", cls.data, "--formats", "png",
                           "--x", "sites.count", "--y", "policy.threshold_g_per_kwh")
        if rc != 0:
            raise AssertionError("fig_sweep.py failed: " + err)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def npz(self, stem):
        return np.load(os.path.join(self.data, stem + ".npz"))

    def test_every_point_is_plotted_with_its_figures(self):
        d = self.npz("sweep_pareto")
        self.assertEqual(len(d["point"]), 8)
        np.testing.assert_array_equal(d["point"], self.rows["point"])
        np.testing.assert_array_equal(d["runtime_h"], self.rows["runtime_h"])
        np.testing.assert_array_equal(d["carbon_kg"], self.rows["carbon_kg"])
        self.assertTrue(os.path.isfile(os.path.join(self.tmp, "fig", "sweep_pareto.png")))

    def test_the_front_is_the_pareto_set(self):
        d = self.npz("sweep_pareto")
        r, c = self.rows["runtime_h"], self.rows["carbon_kg"]
        want = set()
        for i in range(len(r)):
            if not any((r[j] <= r[i] and c[j] <= c[i] and (r[j] < r[i] or c[j] < c[i]))
                       for j in range(len(r))):
                want.add(int(self.rows["point"][i]))
        self.assertEqual(set(d["front_point"].tolist()), want)
        self.assertTrue(np.all(np.diff(d["front_runtime_h"]) >= 0), "front not sorted by runtime")
        # Along the front, carbon falls as runtime grows.
        self.assertTrue(np.all(np.diff(d["front_carbon_kg"]) <= 0))

    def test_heat_map_cells_are_means_over_the_other_parameter(self):
        d = self.npz("sweep_heatmap")
        np.testing.assert_array_equal(d["x"], [1, 3])
        np.testing.assert_array_equal(d["y"], [80, 120])
        self.assertEqual(d["value"].shape, (2, 2))
        for iy, th in enumerate([80, 120]):
            for ix, n in enumerate([1, 3]):
                sel = ((self.rows["policy.threshold_g_per_kwh"] == th)
                       & (self.rows["sites.count"] == n))
                self.assertEqual(d["count"][iy, ix], 2)
                self.assertAlmostEqual(d["value"][iy, ix], self.rows["carbon_kg"][sel].mean(),
                                       places=12)

    def test_figures_py_hands_a_sweep_table_over(self):
        out = os.path.join(self.tmp, "fig2")
        rc, stdout, err = run(FIGURES, self.table, "-o", out, "--formats", "png")
        self.assertEqual(rc, 0, err)
        for stem in ("sweep_pareto", "sweep_heatmap"):
            self.assertTrue(os.path.isfile(os.path.join(out, stem + ".png")), stdout)

    def test_bad_input_exits_2(self):
        rc, _, err = run(FIG_SWEEP, os.path.join(self.tmp, "small.yaml"), "-o", self.tmp)
        self.assertEqual(rc, 2)
        self.assertIn("small.yaml", err)
        rc, _, err = run(FIG_SWEEP, self.table, "-o", self.tmp, "--x", "policy.nope")
        self.assertEqual(rc, 2)
        self.assertIn("not a parameter", err)
        report = os.path.join(self.out, self.rows["report"][0].decode())
        rc, _, err = run(FIG_SWEEP, report, "-o", self.tmp)
        self.assertEqual(rc, 2)
        self.assertIn("not a sweep table", err)


if __name__ == "__main__":
    unittest.main()

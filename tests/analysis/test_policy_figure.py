"""test_policy_figure.py - analysis/fig_policies.py on `spillway optimum --csv` output.

Six hours of scenarios/paper.yaml are solved; the figure is drawn from the CSV, the arrays it
draws match the table, and bad input gives exit status 2 naming file, line and field.

Run from the repository root: /usr/bin/python3 -m unittest discover -s tests/analysis
"""

import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIG = os.path.join(ROOT, "analysis", "fig_policies.py")
sys.path.insert(0, os.path.join(ROOT, "analysis"))

try:
    import matplotlib  # noqa: F401
except ImportError:
    matplotlib = None


def spillway_binary():
    path = os.environ.get("SW_SPILLWAY") or os.path.join(ROOT, "build", "spillway")
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


@unittest.skipIf(matplotlib is None, "needs python3-matplotlib (/usr/bin/python3)")
class PolicyFigure(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    @unittest.skipIf(spillway_binary() is None, "needs build/spillway (or SW_SPILLWAY)")
    def test_figure_from_the_optimum_table(self):
        p = subprocess.run([spillway_binary(), "optimum", "scenarios/paper.yaml", "--set",
                            "trace.end=2026-01-11T23:00:00Z", "--set", "model.tokens=3e9",
                            "--csv"], capture_output=True, text=True, cwd=ROOT, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        table = os.path.join(self.dir, "gaps.csv")
        with open(table, "w") as fh:
            fh.write(p.stdout)
        q = subprocess.run([sys.executable, FIG, table, "-o", self.dir, "--formats", "png"],
                           capture_output=True, text=True, cwd=ROOT, timeout=300)
        self.assertEqual(q.returncode, 0, q.stderr)
        self.assertTrue(os.path.getsize(os.path.join(self.dir, "policies_gap.png")) > 1000)
        import fig_policies
        rows = fig_policies.read_table(table)
        fig, data = fig_policies.draw(rows)
        fig_policies.style.close(fig)
        self.assertEqual(data["names"],
                         ["optimum", "threshold", "forecast_threshold", "deadline", "elastic"])
        by_name = {r["name"]: r for r in rows}
        for name, carbon in zip(data["names"], data["carbon_kg"]):
            self.assertAlmostEqual(carbon, by_name[name]["carbon_kg"])
            self.assertGreaterEqual(carbon, data["bound_kg"] * (1 - 1e-9))

    def test_bad_input_exits_2_naming_the_place(self):
        bad = os.path.join(self.dir, "bad.csv")
        with open(bad, "w") as fh:
            fh.write("name,carbon_kg,tokens,runtime_h,feasible,gap_optimum,gap_bound\n"
                     "optimum,lots,3e9,6,1,0,0\n")
        q = subprocess.run([sys.executable, FIG, bad, "-o", self.dir], capture_output=True,
                           text=True, cwd=ROOT, timeout=60)
        self.assertEqual(q.returncode, 2)
        self.assertIn("bad.csv:2:carbon_kg", q.stderr)
        with open(bad, "w") as fh:
            fh.write("policy,carbon\n")
        q = subprocess.run([sys.executable, FIG, bad, "-o", self.dir], capture_output=True,
                           text=True, cwd=ROOT, timeout=60)
        self.assertEqual(q.returncode, 2)
        self.assertIn("bad.csv:1: header", q.stderr)


if __name__ == "__main__":
    unittest.main()

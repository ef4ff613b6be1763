"""test_roles.py - which report plays which part (analysis/roles.py), and the scenario fields
read from the resolved YAML (analysis/scenario_text.py), without running anything.

Reports that spillway sim --baselines did not name (exec runs, hand-written baselines) are
recognised by their policy; these cases are not covered by test_figures.py.
"""

import os
import sys
import types
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "analysis"))

import roles  # noqa: E402
import scenario_text  # noqa: E402

BLOCK_YAML = """\
name: paper
trace:
  file: traces/x.csv   # a comment
  baseline_regions: [CAISO_NORTH, DE]
policy:
  kind: threshold
  threshold_g_per_kwh: 80.5
rounds:
  outer:
    kind: none
sites:
- name: california
  region: CAISO_NORTH
  pue: 1.2
  power_w: {train: 2024, idle: 468, off: 0}
- name: texas
  region: SPP_TX
  pue: 1
"""

FLOW_YAML = """\
name: small
policy: { kind: always_on, threshold_g_per_kwh: 100 }
sites:
  - { name: a, region: A, pue: 1.5, power_w: { train: 2000, idle: 500 } }
  - { name: b, region: B }
"""


def fake(scenario, policy_kind, regions, path=None):
    """A stand-in for report.Report with what roles.py reads."""
    sites = [types.SimpleNamespace(name="s%d" % i, region=r) for i, r in enumerate(regions)]
    return types.SimpleNamespace(scenario=scenario, policy={"kind": policy_kind}, sites=sites,
                                 path=path or scenario + ".h5", yaml="")


class ScenarioTextTest(unittest.TestCase):
    def test_block_style(self):
        self.assertEqual(scenario_text.section(BLOCK_YAML, "policy"),
                         {"kind": "threshold", "threshold_g_per_kwh": 80.5})
        self.assertEqual(scenario_text.section(BLOCK_YAML, "trace")["file"], "traces/x.csv")
        sites = scenario_text.site_items(BLOCK_YAML)
        self.assertEqual([(s["name"], s["pue"]) for s in sites], [("california", 1.2), ("texas", 1)])

    def test_flow_style(self):
        self.assertEqual(scenario_text.section(FLOW_YAML, "policy"),
                         {"kind": "always_on", "threshold_g_per_kwh": 100})
        sites = scenario_text.site_items(FLOW_YAML)
        self.assertEqual([s["name"] for s in sites], ["a", "b"])
        self.assertEqual(sites[0]["pue"], 1.5)
        self.assertNotIn("pue", sites[1])

    def test_missing_section_is_empty(self):
        self.assertEqual(scenario_text.section(FLOW_YAML, "rounds"), {})
        self.assertEqual(scenario_text.site_items("name: x\n"), [])


class RolesTest(unittest.TestCase):
    def test_names_written_by_baselines(self):
        self.assertEqual(roles.classify(fake("paper-central-NEM_SA", "always_on", ["NEM_SA"])),
                         (roles.CENTRAL, "NEM_SA"))
        self.assertEqual(roles.classify(fake("paper-federated2", "always_on", ["A", "B"])),
                         (roles.FEDERATED, None))

    def test_policy_decides_for_other_names(self):
        self.assertEqual(roles.classify(fake("run", "always_on", ["DE"])), (roles.CENTRAL, "DE"))
        self.assertEqual(roles.classify(fake("run", "always_on", ["A", "B", "C"])),
                         (roles.FEDERATED, None))
        self.assertEqual(roles.classify(fake("run", "threshold", ["A"])), (roles.AWARE, None))

    def test_first_of_each_role_wins_and_same_scenarios_group(self):
        sim = fake("paper", "threshold", ["A", "B"], "sim.h5")
        exe = fake("paper", "threshold", ["A", "B"], "exec.h5")
        de1 = fake("paper-central-DE", "always_on", ["DE"], "de1.h5")
        de2 = fake("other-central-DE", "always_on", ["DE"], "de2.h5")
        r = roles.Roles([de1, sim, exe, de2])
        self.assertIs(r.aware, sim)
        self.assertIs(r.central["DE"], de1)
        self.assertIsNone(r.federated)
        self.assertEqual(r.groups, [[sim, exe]])
        self.assertEqual(len(r.notes), 2)
        self.assertIn("exec.h5", r.notes[0] + r.notes[1])
        self.assertIn("de2.h5", r.notes[0] + r.notes[1])


if __name__ == "__main__":
    unittest.main()

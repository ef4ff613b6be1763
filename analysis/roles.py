"""roles.py - decides which report plays which part in the study's figures.

The reference study compares one curtailment-aware run with centralized baselines (one site
always on, per region) and a two-site always-federated baseline. `spillway sim --baselines`
names them `<scenario>-central-<REGION>` and `<scenario>-federated2`; a report from elsewhere
(exec mode, a hand-written baseline scenario) is recognised from its policy instead: an
`always_on` policy with one site is centralized, with several sites federated, and any other
policy (threshold, ...) is curtailment-aware.
"""

import re

AWARE, CENTRAL, FEDERATED = "curtailment-aware", "centralized", "federated"


class Skip(Exception):
    """A figure cannot be drawn from the reports given; the message says what it needs."""


def classify(rep):
    """(role, region): the role of a report and, for a centralized one, its region."""
    m = re.search(r"-central-([A-Za-z0-9_.-]+)$", rep.scenario)
    if m:
        return CENTRAL, m.group(1)
    if rep.scenario.endswith("-federated2"):
        return FEDERATED, None
    if rep.policy.get("kind") == "always_on":
        if len(rep.sites) == 1:
            return CENTRAL, rep.sites[0].region
        return FEDERATED, None
    return AWARE, None


class Roles:
    """The reports sorted by role.

    aware: the curtailment-aware report the study's figures are drawn for (the first given), or
    None; central: {region: report} (first one per region); federated: the first federated
    report or None; groups: lists of 2+ reports that share a scenario name (for the sim-vs-exec
    comparison), in the order given; notes: what was set aside and why.
    """

    def __init__(self, reports):
        self.aware, self.federated = None, None
        self.central = {}
        self.notes = []
        for rep in reports:
            role, region = classify(rep)
            if role == AWARE:
                if self.aware is None:
                    self.aware = rep
                else:
                    self.notes.append(
                        "%s: a second curtailment-aware report; the study's figures use %s"
                        % (rep.path, self.aware.path)
                    )
            elif role == CENTRAL:
                if region in self.central:
                    self.notes.append(
                        "%s: a second centralized report for %s; using %s"
                        % (rep.path, region, self.central[region].path)
                    )
                else:
                    self.central[region] = rep
            elif self.federated is None:
                self.federated = rep
            else:
                self.notes.append(
                    "%s: a second federated report; using %s" % (rep.path, self.federated.path)
                )
        by_name = {}
        for rep in reports:
            by_name.setdefault(rep.scenario, []).append(rep)
        self.groups = [g for g in by_name.values() if len(g) >= 2]

    def central_in_order(self):
        """[(region, report)] of the centralized reports, in the scenario's baseline order when
        the curtailment-aware report names it (trace.baseline_regions), else as given."""
        order = []
        if self.aware is not None:
            m = re.search(r"baseline_regions:\s*\[([^\]]*)\]", self.aware.yaml)
            if m:
                order = [x.strip() for x in m.group(1).split(",") if x.strip()]
        known = [r for r in order if r in self.central]
        return [(r, self.central[r]) for r in known + [r for r in self.central if r not in known]]

#!/usr/bin/env bash
# run.sh - the main job, from a fresh Debian 12 machine: installs what is missing, builds, and
# runs the reference scenario of the study (three sites in their curtailment windows) with its
# baselines (one site always on in each region, two sites always federated), then prints the
# study's table and writes its figures.
set -euo pipefail
. "$(dirname "$0")/scripts/bootstrap.sh"
cd "$SW_ROOT"
sw_install_packages
sw_build build
./build/spillway windows traces/mci_2026-01-11.csv --region CAISO_NORTH
./build/spillway sim scenarios/paper.yaml --baselines -o results/paper.h5
./build/spillway summary results/paper.h5 results/paper-federated2.h5 results/paper-central-*.h5
/usr/bin/python3 analysis/figures.py results/paper.h5 results/paper-central-*.h5 \
    results/paper-federated2.h5 -o results/figures
echo "[spillway] reports in results/, figures (PNG and PDF) in results/figures/"

#!/usr/bin/env bash
# run.sh - the main job, from a fresh Debian 12 machine: installs what is missing, builds, and
# runs the reference scenario.
set -euo pipefail
. "$(dirname "$0")/scripts/bootstrap.sh"
cd "$SW_ROOT"
sw_install_packages
sw_build build
./build/spillway windows traces/mci_2026-01-11.csv

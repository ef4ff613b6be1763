#!/usr/bin/env bash
# test.sh - the whole test suite, from a fresh Debian 12 machine: installs what is missing,
# builds twice (normal, and AddressSanitizer + UndefinedBehaviorSanitizer, both with
# -Wall -Wextra -Werror) and runs every test of both builds through CTest.
# Exit status 0 only if both builds pass.
set -euo pipefail
. "$(dirname "$0")/scripts/bootstrap.sh"
cd "$SW_ROOT"
sw_install_packages

status=0
for variant in build build-asan; do
  args=()
  [ "$variant" = build-asan ] && args=(-DSW_SANITIZE=ON)
  sw_build "$variant" "${args[@]}"
  sw_log "testing $variant"
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
       ctest --test-dir "$variant" --output-on-failure -j "$(nproc)"; then
    status=1
  fi
done
if [ $status -eq 0 ]; then
  sw_log "all tests passed in both builds"
else
  sw_log "TESTS FAILED"
fi
exit $status

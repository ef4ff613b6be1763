"""require.py - what a Python test does when a tool it needs is missing (the rule of
tests/test_require.h): the whole test file exits with CTest's skip code 77, so CTest shows it
as skipped rather than passed; under CI=true the tool is required and the test fails.

    require.missing("python3-h5py")   # in setUpClass: skip (or fail under CI=true)
    require.main()                    # instead of unittest.main()
"""

import os
import sys
import unittest

SKIP_RETURN_CODE = 77


def missing(what):
    """Raises SkipTest naming what is missing, or fails under CI=true."""
    if os.environ.get("CI") == "true":
        raise AssertionError("%s is required under CI=true and is missing" % what)
    raise unittest.SkipTest("%s is missing" % what)


def main():
    """Runs the calling module's tests; exit 0 if all passed, 1 on a failure or error, 77 when
    nothing failed but something was skipped."""
    prog = unittest.main(module="__main__", exit=False, verbosity=2)
    r = prog.result
    if r.failures or r.errors or r.unexpectedSuccesses:
        sys.exit(1)
    if r.skipped:
        print("SKIPPED: " + "; ".join(reason for _, reason in r.skipped), file=sys.stderr)
        sys.exit(SKIP_RETURN_CODE)
    sys.exit(0)

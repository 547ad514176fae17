import os
import sys

# Tests import the helpers in this folder (catalogue, strategies) by name.
sys.path.insert(0, os.path.dirname(__file__))

# CI runs the property-based tests derandomized: the same examples every run, so a
# submission never fails on an example that no earlier run had drawn.  Locally,
# hypothesis explores afresh (and replays failures it has saved).
try:
    from hypothesis import settings
except ImportError:   # the test extra is not installed; those tests will not import either
    settings = None
if settings is not None:
    settings.register_profile("ci", derandomize=True, database=None)
    if os.environ.get("CI"):
        settings.load_profile("ci")

# tests/test_summation.py runs the bit-for-bit tests with Python 3.12's compensated
# sum() in place of the builtin, to find a float sum not added in the written order.
if os.environ.get("NEURONSIM_COMPENSATED_SUM"):
    import compensated_sum
    compensated_sum.install()

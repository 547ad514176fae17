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

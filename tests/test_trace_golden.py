"""The exact bytes of ``neuronsim trace``: feed-forward and sequence traces, every format.

Each case of scripts/make_golden_traces.py (every bundled example, an LSTM
and a GRU file, options such as --batch-size, --convention ng,
--bias-as-weight, --digits 17, an optimizer, --truncation) must print what
its file in tests/golden/ holds, byte for byte.  They pin the traces while
the tracer and the renderer are reorganised: a refactoring changes no byte.
A change of the text that is meant: regenerate the files with
``python scripts/make_golden_traces.py`` and say so in the commit.
"""

import difflib
import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _script():
    path = os.path.join(ROOT, "scripts", "make_golden_traces.py")
    spec = importlib.util.spec_from_file_location("make_golden_traces", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GOLDEN = _script()


@pytest.mark.parametrize("name,fmt", GOLDEN.cases(), ids=lambda v: v)
def test_trace_is_byte_identical(name, fmt):
    path = GOLDEN.golden_path(name, fmt)
    with open(path, encoding="utf-8", newline="") as f:
        expected = f.read()
    actual = GOLDEN.run(name, fmt)
    if actual != expected:
        diff = "".join(list(difflib.unified_diff(
            expected.splitlines(True), actual.splitlines(True),
            fromfile=os.path.relpath(path, ROOT), tofile="neuronsim " + " ".join(
                GOLDEN.arguments(name, fmt)[:-1]), n=1))[:40])
        pytest.fail(f"the trace of case {name!r} ({fmt}) changed. If the change is meant, "
                    f"regenerate with 'python scripts/make_golden_traces.py' and say so in the "
                    f"commit.\n{diff}")


def test_every_bundled_example_is_pinned():
    from neuronsim.files.bundled import example_path

    folder = os.path.dirname(example_path("mazur"))
    bundled = {name[:-5] for name in os.listdir(folder) if name.endswith(".json")}
    pinned = {args[0] for args, _ in GOLDEN.CASES.values()}
    assert bundled <= pinned, sorted(bundled - pinned)


def test_no_stray_golden_files():
    """Every file of tests/golden/ belongs to a case (a removed case takes its file)."""
    expected = {os.path.basename(GOLDEN.golden_path(n, f)) for n, f in GOLDEN.cases()}
    present = {name for name in os.listdir(GOLDEN.GOLDEN)
               if os.path.isfile(os.path.join(GOLDEN.GOLDEN, name))}
    assert present == expected

"""Every example in README.md and docs/*.md runs, so the docs cannot rot.

Examples are doctest blocks (lines starting with ``>>>``) inside the Markdown.
"""

import doctest
import glob
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))


@pytest.mark.parametrize("page", PAGES, ids=[os.path.relpath(p, ROOT) for p in PAGES])
def test_page_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that save files write here
    result = doctest.testfile(page, module_relative=False,
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                              raise_on_error=False, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {page}"


def test_module_docstrings():
    import neuronsim
    import neuronsim.core.labels
    import neuronsim.trace.records
    import neuronsim.trace.tracer

    for module in (neuronsim, neuronsim.core.labels, neuronsim.trace.records,
                   neuronsim.trace.tracer):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0


def test_readme_trace_excerpt_is_real_demo_output(capsys):
    """The README's ```text excerpt of `neuronsim demo` is what the demo prints."""
    from neuronsim.cli.main import main

    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    start = readme.index("```text\n") + len("```text\n")
    excerpt = readme[start:readme.index("```", start)]
    assert main(["demo"]) == 0
    output = capsys.readouterr().out
    lines = [line for line in excerpt.splitlines() if line.strip() and line.strip() != "..."]
    assert len(lines) > 10
    for line in lines:
        assert line in output, line

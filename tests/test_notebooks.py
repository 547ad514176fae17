"""The notebooks of docs/notebooks run: each is executed by nbclient in a fresh
ipykernel (the interpreter running the tests), top to bottom, and must finish without
an error; their cells assert the numbers they show.  The notebooks are kept in git
without outputs (a test checks that too), so what a reader sees is what a run gives.

Skips when nbclient, nbformat or ipykernel are absent (pip install
"neuronsim[run-notebooks]"; CI installs them).
"""

import json
import sys
import time
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "docs" / "notebooks").glob("*.ipynb"))
NAMES = [path.stem for path in NOTEBOOKS]
SECONDS = 60      # each notebook takes a few seconds; this bounds a hung kernel


def test_the_notebooks_are_there_and_stored_without_outputs():
    assert NAMES == ["bptt", "mazur", "optimizers", "xor-boundary"]
    for path in NOTEBOOKS:
        notebook = json.loads(path.read_text(encoding="utf-8"))
        for cell in notebook["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


@pytest.fixture(scope="module")
def kernel_name(tmp_path_factory):
    """A kernelspec that starts ipykernel with this interpreter (not whatever
    ``python`` is first on PATH), found through JUPYTER_PATH."""
    pytest.importorskip("nbclient", reason='running notebooks needs nbclient '
                                           '(pip install "neuronsim[run-notebooks]")')
    pytest.importorskip("nbformat", reason="running notebooks needs nbformat")
    pytest.importorskip("ipykernel", reason="running notebooks needs ipykernel")
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / "neuronsim-tests"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "neuronsim tests", "language": "python"}), encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(root))
        yield "neuronsim-tests"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=NAMES)
def test_the_notebook_runs_without_an_error(path, kernel_name, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(str(path), as_version=4)
    client = NotebookClient(notebook, kernel_name=kernel_name, timeout=SECONDS,
                            resources={"metadata": {"path": str(tmp_path)}})
    start = time.perf_counter()
    client.execute()          # raises CellExecutionError, with the cell and traceback
    seconds = time.perf_counter() - start
    outputs = [output for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert seconds < SECONDS
    text = "\n".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    shown = [o for o in outputs if o.output_type in ("execute_result", "display_data")]
    assert shown                          # the notebook displays something
    if path.stem == "mazur":
        assert "hand and neuronsim agree" in text
        assert any("text/html" in o.data and "<svg" in o.data["text/html"] for o in shown)
    if path.stem == "xor-boundary":       # tqdm's notebook bar: a widget
        assert any("application/vnd.jupyter.widget-view+json" in o.data for o in shown)
    if path.stem == "bptt":
        assert "BPTT agrees with central differences" in text

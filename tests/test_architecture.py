"""The package's layers: no import cycles anywhere, and the core imports nothing outside itself.

Every ``import`` counts, also the ones inside functions (a lazy import is still a
dependency).  See docs/architecture.md.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "neuronsim"


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path):
    """The neuronsim modules (or packages) that ``path`` imports, as dotted names."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("neuronsim"):
                continue
            for alias in node.names:   # "from . import labels" imports a module
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in MODULES else target)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("neuronsim"))
    found.discard(name)
    return found


MODULES = {module_name(p) for p in PACKAGE.rglob("*.py")}
GRAPH = {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py")}


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in graph:
                continue
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_import_names_an_existing_module():
    missing = {(m, t) for m, targets in GRAPH.items() for t in targets if t not in MODULES}
    assert not missing


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if m.startswith("neuronsim.core")))
def test_core_imports_nothing_outside_itself(module):
    outside = sorted(t for t in GRAPH[module] if not t.startswith("neuronsim.core"))
    assert outside == [], f"{module} imports {outside}"


def test_import_neuronsim_needs_neither_numpy_nor_tabulate():
    """The core and the network files run without them; they load where a cross-check,
    a table or a diagram needs them (the CLI's start-up and `import neuronsim` stay fast)."""
    import subprocess
    import sys

    code = ("import sys, neuronsim; net = neuronsim.Network.from_spec({'inputs': 1, 'layers': "
            "[{'activation': 'tanh', 'weights': [[0.5]]}]}); net.step([1.0], [0.0], 0.1); "
            "print(sorted(m for m in ('numpy', 'tabulate') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_command_imports_only_its_own_module():
    """`neuronsim trace` loads the trace command's module and what it needs, not numpy,
    not the other commands and, for a feed-forward network, not RecurrentTracer's module,
    the sequence and LSTM/GRU records or the hand modules; nor, for its plain-text tables (render/plain_table.py), tabulate
    with wcwidth and importlib.metadata, nor the standard modules that only saving
    (tempfile), .npz arrays (zipfile), HTML (html), exact fractions (fractions), mpmath
    numbers (decimal) or drawn weights and training (random) need, nor shutil (argparse's
    way to the terminal's width; neuronsim.cli.main finds it itself), nor dataclasses (with
    inspect and ast: the records are plain classes) or copy (Network.copy loads it).  Modules that python's own start-up already
    loaded (site's .pth files can) do not count.  `--help` lists every command."""
    import subprocess
    import sys

    from catalogue import modules_a_command_loads

    assert modules_a_command_loads(["trace", "mazur"], [
        "numpy", "neuronsim.cli.crosscheck", "neuronsim.cli.digits",
        "neuronsim.crosscheck.compare", "neuronsim.trace.recurrent", "neuronsim.hand.common",
        "tabulate", "wcwidth", "importlib.metadata", "tempfile", "zipfile", "html",
        "neuronsim.trace.sequence", "neuronsim.trace.gated", "fractions", "decimal", "shutil",
        "random", "dataclasses", "inspect", "copy"], timeout=60) == (0, [])
    # the probe sees what a command does load (it can fail)
    assert modules_a_command_loads(["trace", "mazur"], ["neuronsim.trace.tracer", "json"],
                                   timeout=60) == (0, ["json", "neuronsim.trace.tracer"])
    from neuronsim.cli.main import COMMANDS
    helped = subprocess.run([sys.executable, "-m", "neuronsim", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert helped.returncode == 0
    assert all(name in helped.stdout for name in COMMANDS)

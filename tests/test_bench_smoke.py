"""scripts/bench.py runs end to end in --quick mode and prints every row.

Timings of a quick run mean nothing; this checks the script works and that
its baseline computes the same step as neuronsim (the benchmark's premise).
"""

import importlib.util
import io
import os
import re
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "scripts")


def load_script(name):
    sys.path.insert(0, SCRIPTS)
    try:
        spec = importlib.util.spec_from_file_location(name, os.path.join(SCRIPTS, f"{name}.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(SCRIPTS)
    return module


@pytest.fixture(scope="module")
def report():
    bench = load_script("bench")
    out = io.StringIO()
    status = bench.main(["--quick", "--shapes", "2-2-2,4-2-2-1", "--stream-steps", "2",
                         "--train-epoch", "--train-samples", "5"], out=out)
    assert status == 0
    return out.getvalue()


ROWS = ["neuronsim", "neuronsim, tracer disabled", "neuronsim, tracing on", "flat plain Python",
        "numpy, per sample", "numpy, batch of 32"]


def test_every_shape_has_every_row(report):
    for shape in ("2-2-2", "4-2-2-1"):
        section = report.split(f"## {shape} ")[1].split("\n## ")[0]
        names = [line[:28].strip() for line in section.splitlines()[4:]
                 if re.match(r"^\S.{27} +\d", line)]
        expected = ROWS[:4] + (["micrograd"] if "micrograd:" not in section else []) + ROWS[4:]
        assert names == expected, section
        assert "one step agrees with neuronsim: max relative weight difference" in section
        for ratio in ("neuronsim / flat, step", "neuronsim / flat, peak memory",
                      "tracer disabled / none, step", "tracing on / none, step"):
            assert re.search(rf"^  {re.escape(ratio)} +\d+\.\d\d", section, re.M), ratio


def test_micrograd_row_or_a_note(report):
    try:
        import micrograd  # noqa: F401
    except ImportError:
        assert "micrograd: skipped (not installed: pip install micrograd)" in report
    else:
        assert re.search(r"^micrograd +\d", report, re.M)
        assert "micrograd / neuronsim, step" in report


def test_scale_runs_and_the_verdict(report):
    assert "## trace streaming, 784-30-10, 2 online steps" in report
    assert len(re.findall(r"^(jsonl|csv) +(all|\[0\]) +(yes|no) +\d", report, re.M)) == 3
    assert re.search(r"^peak traced memory, jsonl, all neurons \(network included\): "
                     r"[\d.]+ MB after 1 steps, [\d.]+ MB after 2 steps$", report, re.M)
    assert re.search(r"^## train: 5 samples of 784 inputs", report, re.M)
    assert re.search(r"^[\d.]+ s wall \([\d.]+ ms per sample\); epoch loss \S+; ", report, re.M)
    assert re.search(r"^targets missed: ", report, re.M)
    assert "[QUICK: timings meaningless]" in report


@pytest.mark.parametrize("activations", [("relu", "linear"), ("sigmoid", "sigmoid"),
                                         ("tanh", "linear")])
def test_flat_baseline_computes_neuronsim_step(activations):
    """Same weights after three online steps, to rounding (the baseline fuses η·δ)."""
    bench = load_script("bench")
    problem = bench.Problem([5, 4, 3, 2], *activations)
    net = bench.neuronsim_build()(problem)
    flat = bench.flat_build(problem)
    for x, t in problem.samples[:3]:
        assert flat.step(x, t, 0.3) == pytest.approx(net.step(x, t, 0.3), rel=1e-12)
    for layer, matrix, biases in zip(net.layers, flat.weights, flat.biases):
        for neuron, row, b in zip(layer.neurons, matrix, biases):
            assert row == pytest.approx(neuron.weights, rel=1e-12, abs=1e-15)
            assert b == pytest.approx(neuron.bias, rel=1e-12, abs=1e-15)
    x = problem.samples[5][0]
    assert flat.forward(x) == pytest.approx(net.forward_pass(x), rel=1e-12, abs=1e-15)


def test_ab_versions_runs_against_a_copy_of_itself(tmp_path):
    """scripts/ab_versions.py: the installed package against a renamed copy (here of
    itself): both step to bit-identical weights and a ratio is printed per shape."""
    import shutil
    import subprocess

    shutil.copytree(os.path.join(ROOT, "neuronsim"), tmp_path / "neuronsim_before")
    result = subprocess.run(
        [sys.executable, os.path.join(SCRIPTS, "ab_versions.py"), str(tmp_path),
         "--shapes", "2-2-2", "--repeats", "1", "--block", "0.005"],
        capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert re.search(r"2-2-2: new +[\d.]+ µs/step, old +[\d.]+ µs/step, new/old [\d.]+",
                     result.stdout)

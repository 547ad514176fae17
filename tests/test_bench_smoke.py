"""scripts/bench.py runs end to end in --quick mode and prints every row.

Timings of a quick run mean nothing; this checks the script works and that
its flat yardsticks compute neuronsim's step bit for bit (the benchmark's
premise), for dense networks and for one BPTT step of a recurrent one.
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
                         "--train-epoch", "--train-samples", "5",
                         "--recurrent-shapes", "4-r8-2,3-r5-4-2", "--sequence-length", "4"],
                        out=out)
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
        assert ("one step agrees with neuronsim: flat bit-identical; the others' max relative "
                "difference in weights and biases") in section
        for ratio in ("neuronsim / flat, step", "neuronsim / flat, peak memory",
                      "tracer disabled / none, step", "tracing on / none, step"):
            assert re.search(rf"^  {re.escape(ratio)} +\d+\.\d\d", section, re.M), ratio
        assert re.search(r"^  neuronsim / flat, step +\d+\.\d\d  target <= 1.6: "
                         r"(met|MISSED by \d+ %)$", section, re.M)


def test_flat_variants_side_by_side(report):
    """Per shape: the yardstick first, the variants it beat, the previous yardstick
    (whose last bits may or may not differ in a short check of a tiny network: see
    test_the_bit_identity_check_has_teeth), and a line that says which was fastest."""
    for shape in ("2-2-2", "4-2-2-1"):
        section = report.split(f"## flat variants at {shape}: ")[1].split("\n## ")[0]
        lines = section.splitlines()
        assert re.match(r"^yardstick \(loops at fan-in <= 16\) +[\d.]+ +1\.00  bit-identical$",
                        lines[2]), section
        assert re.search(r"^comprehensions everywhere +[\d.]+ +[\d.]+  bit-identical$",
                         section, re.M)
        assert re.search(r"^previous yardstick \(η·δ first\) +[\d.]+ +[\d.]+  "
                         r"(differ in the last bits|bit-identical)$", section, re.M)
        assert re.search(r"^(the yardstick is the fastest bit-identical variant|"
                         r"faster than the yardstick in this run: .+)$", section, re.M)


def test_recurrent_rows(report):
    """One BPTT step: neuronsim, the flat loop (bit-identical) and torch (or a note)."""
    for shape, params in (("4-r8-2", "122 parameters"), ("3-r5-4-2", "79 parameters")):
        section = report.split(f"## recurrent {shape}, T = 4  ")[1].split("\n## ")[0]
        assert params in section
        assert "one BPTT step agrees with neuronsim: flat bit-identical" in section
        names = [line[:28].strip() for line in section.splitlines()
                 if re.match(r"^\S.{27} +\d", line)]
        try:
            import torch  # noqa: F401
        except ImportError:
            assert names == ["neuronsim", "flat plain Python BPTT", "flat BPTT, comprehensions"]
            assert "torch per sample: skipped (not installed)" in section
        else:
            assert names == ["neuronsim", "flat plain Python BPTT", "flat BPTT, comprehensions",
                             "torch per sample, CPU"], section
            assert re.search(r"torch max relative difference in weights and biases "
                             r"\d\.\de-\d\d", section)
            assert re.search(r"^  neuronsim / torch, step +\d+\.\d\d$", section, re.M)
        assert re.search(r"^  neuronsim / flat plain Python BPTT, step +\d+\.\d\d$",
                         section, re.M)


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
                                         ("tanh", "linear"), ("relu", "tanh")])
@pytest.mark.parametrize("small_fan_in", [0, 4, 16, float("inf")])
def test_flat_baseline_is_bit_identical_to_neuronsim(activations, small_fan_in):
    """Same weights and biases, bit for bit, after three online steps, whichever
    layers run explicit loops; the same forward pass; the same loss to rounding."""
    bench = load_script("bench")
    flat_baseline = load_script("flat_baseline")
    problem = bench.Problem([5, 4, 3, 2], *activations)
    net = bench.neuronsim_build()(problem)
    weights, biases = problem.parameters_lists()
    flat = flat_baseline.FlatNetwork(weights, biases, problem.activations, small_fan_in)
    for x, t in problem.samples[:3]:
        assert flat.step(x, t, 0.3) == pytest.approx(net.step(x, t, 0.3), rel=1e-15)
    assert flat.weights == [[n.weights for n in layer.neurons] for layer in net.layers]
    assert flat.biases == [[n.bias for n in layer.neurons] for layer in net.layers]
    x = problem.samples[5][0]
    assert flat.forward(x) == net.forward_pass(x)


def test_the_bit_identity_check_has_teeth():
    """The previous yardstick (η·δ first) passes a 1e-12 comparison but not the check."""
    bench = load_script("bench")
    flat_baseline = load_script("flat_baseline")
    problem = bench.Problem([5, 4, 3, 2], "tanh", "linear")

    def previous(problem):
        return flat_baseline.PreviousFlatNetwork(*problem.parameters_lists(), problem.activations)

    assert bench.flat_mismatch(bench.flat_build, problem) is None
    assert 0 < bench.flat_mismatch(previous, problem) < 1e-12


def test_a_nan_never_agrees():
    bench = load_script("bench")
    assert bench.relative_difference([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert bench.relative_difference([1.0, 2.0], [1.0, float("nan")]) == float("inf")
    assert bench.relative_difference([float("nan")], [float("nan")]) == float("inf")
    assert bench.relative_difference([1.0], [1.0, 2.0]) == float("inf")


@pytest.mark.parametrize("shape,steps", [("4-r8-2", 10), ("3-r5-4-2", 4), ("2-r3-2", 1)])
@pytest.mark.parametrize("small_fan_in", [0, float("inf")])
def test_flat_bptt_is_bit_identical_to_neuronsim(shape, steps, small_fan_in):
    """One BPTT step per sequence, three sequences: every W, U, b and dense weight
    equal, in explicit loops and in whole-list idioms."""
    bench = load_script("bench")
    problem = bench.RecurrentProblem(shape, steps)
    net = bench.recurrent_neuronsim_build(problem)
    flat = bench.recurrent_flat_build(problem, small_fan_in)
    assert flat.loops == (small_fan_in > 0)
    for xs, ts in problem.samples[:3]:
        assert flat.step(xs, ts, 0.3) == pytest.approx(net.step(xs, ts, 0.3), rel=1e-14)
    assert bench.recurrent_values(flat) == bench.recurrent_values(net)
    assert bench.recurrent_values(flat) != bench.recurrent_values(
        bench.recurrent_flat_build(problem))          # the steps did change the weights


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


def test_only_vectorized_runs_that_row_alone():
    """--only vectorized: the vectorized reference against plain numpy (its arrays
    checked bit for bit first) and nothing else, for repeating that row."""
    pytest.importorskip("numpy")
    bench = load_script("bench")
    out = io.StringIO()
    assert bench.main(["--quick", "--only", "vectorized"], out=out) == 0
    report = out.getvalue()
    sections = re.findall(r"^## (.*)", report, re.M)
    assert len(sections) == 1 and sections[0].startswith("the vectorized reference at 784-30-10")
    for batch in bench.VECTORIZED_BATCHES:
        assert re.search(rf"^ +{batch} +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+$", report, re.M)
    assert "every array agrees with plain numpy: bit-identical" in report


@pytest.mark.parametrize("arguments,message", [
    (["--repeats", "0"], "--repeats must be 1 to 1,000"),
    (["--block", "nan"], "--block must be 0 to 10"),
    (["--stream-steps", "1000000"], "--stream-steps must be 0 to 100,000"),
    (["--sequence-length", "0"], "--sequence-length must be 1 to 1,000"),
    (["--shapes", "2-x-2"], "is not a shape like 4-2-2-1"),
    (["--shapes", "2000-2000-2"], "at most 1,000,000 connections"),
    (["--shapes", "3"], "2 or more layers"),
])
def test_bench_refuses_work_it_cannot_bound_in_one_line(arguments, message, capsys):
    bench = load_script("bench")
    with pytest.raises(SystemExit) as exit_info:
        bench.parse_args(arguments)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_ab_versions_fails_when_the_numbers_overflow_on_both_sides():
    """Two versions that both end on NaN or infinity agree on nothing worth comparing."""
    import neuronsim

    ab = load_script("ab_versions")
    samples = [([1e300, 1e300], [1e300, -1e300])]
    with pytest.raises(SystemExit, match="NaN/infinite"):
        ab.check_bit_identical(neuronsim, neuronsim, [2, 2, 2], samples)
    ab.check_bit_identical(neuronsim, neuronsim, [2, 2, 2], [([0.5, -0.5], [0.1, 0.9])])


def test_same_bits_tells_zero_signs_apart_and_never_agrees_on_nan():
    bench = load_script("bench")
    nan = float("nan")
    assert bench.same_bits([0.5, -1.25], [0.5, -1.25])
    assert not bench.same_bits([0.0], [-0.0])
    assert not bench.same_bits([nan], [nan])
    assert not bench.same_bits([1.0, nan], [1.0, nan])
    assert not bench.same_bits([1.0], [1.0, 2.0])
    assert not bench.same_bits([], [])

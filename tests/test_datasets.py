"""The seeded 2-D data sets, the split, and scikit-learn's digits."""

import math
import statistics
import subprocess
import sys

import pytest

from neuronsim.classroom import datasets
from neuronsim.core.errors import NeuronsimError

TWO_D = ["xor", "circles", "moons", "spirals"]


@pytest.mark.parametrize("name", TWO_D)
def test_length_balance_and_shape(name):
    samples = datasets.load(name, n=101, seed=3)
    assert len(samples) == 101
    labels = [t[0] for _, t in samples]
    assert labels.count(0) == 51 and labels.count(1) == 50
    for x, t in samples:
        assert len(x) == 2 and all(isinstance(v, float) for v in x)
        assert t in ([0], [1])


@pytest.mark.parametrize("name", TWO_D)
def test_same_seed_same_list_other_seed_other_list(name):
    first = datasets.load(name, n=50, seed=7)
    assert datasets.load(name, n=50, seed=7) == first
    assert datasets.load(name, n=50, seed=8) != first


@pytest.mark.parametrize("name", TWO_D)
def test_one_hot_targets(name):
    plain = datasets.load(name, n=20, seed=1)
    hot = datasets.load(name, n=20, seed=1, one_hot=True)
    for (x, t), (x2, t2) in zip(plain, hot):
        assert x == x2
        assert t2 == ([1, 0] if t == [0] else [0, 1])


def test_xor_without_noise_is_the_truth_table():
    for x, t in datasets.xor(n=40, noise=0.0):
        assert x[0] in (0.0, 1.0) and x[1] in (0.0, 1.0)
        assert t == [int(x[0]) ^ int(x[1])]
    corners = {tuple(x) for x, _ in datasets.xor(n=8, noise=0.0)}
    assert corners == {(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)}


def test_xor_noise_has_the_asked_standard_deviation():
    offsets = [x[0] - round(x[0]) for x, _ in datasets.xor(n=4000, noise=0.1, seed=2)]
    assert abs(statistics.mean(offsets)) < 0.01
    assert statistics.stdev(offsets) == pytest.approx(0.1, rel=0.05)


def test_circles_without_noise_lie_on_their_radius():
    for x, t in datasets.circles(n=60, noise=0.0, factor=0.3, seed=4):
        radius = math.hypot(*x)
        assert radius == pytest.approx(0.3 if t == [1] else 1.0, rel=1e-12)


def test_moons_without_noise_lie_on_their_half_circles():
    for x, t in datasets.moons(n=60, noise=0.0, seed=5):
        if t == [0]:
            assert math.hypot(x[0], x[1]) == pytest.approx(1.0, rel=1e-12)
            assert x[1] >= 0
        else:
            assert math.hypot(x[0] - 1.0, x[1] - 0.5) == pytest.approx(1.0, rel=1e-12)
            assert x[1] <= 0.5


def test_spiral_arms_follow_radius_and_angle():
    turns = 1.5
    for x, t in datasets.spirals(n=60, noise=0.0, turns=turns, seed=6):
        s = math.hypot(*x)
        angle = 2 * math.pi * turns * s + (math.pi if t == [1] else 0.0)
        assert x[0] == pytest.approx(s * math.cos(angle), abs=1e-12)
        assert x[1] == pytest.approx(s * math.sin(angle), abs=1e-12)


@pytest.mark.parametrize("call, message", [
    (lambda: datasets.xor(n=0), "n:"),
    (lambda: datasets.moons(noise=-1), "noise:"),
    (lambda: datasets.circles(factor=1.5), "factor:"),
    (lambda: datasets.spirals(turns=0), "turns:"),
    (lambda: datasets.load("blobs"), "unknown data set"),
    (lambda: datasets.split([1, 2], test_fraction=1), "test_fraction"),
])
def test_bad_arguments_say_which(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_split_is_a_seeded_partition():
    samples = [([i], [i % 2]) for i in range(20)]
    train, test = datasets.split(samples, 0.25, seed=1)
    assert len(test) == 5 and len(train) == 15
    assert sorted(train + test) == sorted(samples)
    assert datasets.split(samples, 0.25, seed=1) == (train, test)
    assert datasets.split(samples, 0.25, seed=2) != (train, test)


def test_class_of_single_output_and_one_hot():
    assert datasets.class_of([0]) == 0 and datasets.class_of([1]) == 1
    assert datasets.class_of([0.7]) == 1
    assert datasets.class_of([0, 0, 1, 0]) == 2


def test_digits_are_scikit_learns_images_scaled_to_one():
    sklearn_datasets = pytest.importorskip("sklearn.datasets", reason="needs scikit-learn")
    train, test = datasets.digits(test_fraction=0.25, seed=0)
    assert len(train) == 1348 and len(test) == 449
    bunch = sklearn_datasets.load_digits()
    expected = sorted((tuple(v / 16 for v in row), int(label))
                      for row, label in zip(bunch.data.tolist(), bunch.target.tolist()))
    got = sorted((tuple(x), datasets.class_of(t)) for x, t in train + test)
    assert got == expected
    for x, t in train[:50]:
        assert len(x) == 64 and min(x) >= 0 and max(x) <= 1
        assert len(t) == 10 and sorted(t) == [0] * 9 + [1]
    assert datasets.digits(seed=0) == (train, test)


def test_digits_without_scikit_learn_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(NeuronsimError, match=r'pip install "neuronsim\[datasets\]"'):
        datasets.digits()


@pytest.mark.parametrize("name", ["xor", "circles", "moons", "spirals"])
@pytest.mark.parametrize("noise", [float("nan"), float("inf"), -0.1, "0.1"])
def test_noise_must_be_a_finite_number_at_least_0(name, noise):
    with pytest.raises(ValueError) as info:
        getattr(datasets, name)(n=4, noise=noise)
    assert str(info.value) == f"noise: expected a finite standard deviation >= 0, got {noise!r}"


def test_circles_docstring_says_the_points_lie_on_circles():
    doc = datasets.circles.__doc__
    assert "disc" not in doc and "Points lie on the circles" in doc


def test_digits_are_read_without_importing_scikit_learn():
    pytest.importorskip("sklearn", reason="needs scikit-learn")
    code = ("import sys\nfrom neuronsim.classroom import datasets\n"
            "train, test = datasets.digits()\n"
            "print(len(train) + len(test), sorted(m for m in sys.modules if m.startswith('sklearn')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split(None, 1) == ["1797", "[]\n"]

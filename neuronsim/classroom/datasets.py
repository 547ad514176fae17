"""Small seeded data sets, as plain Python lists of (input, target) pairs.

The 2-D sets are the classic pictures of what a hidden layer buys you:

===========  ==================================================================
``xor``      four clusters at the corners of the unit square; t = x1 XOR x2
``circles``  a disc of radius ``factor`` (t = 1) inside a ring of radius 1 (t = 0)
``moons``    two interleaved half circles (scikit-learn's ``make_moons`` shape)
``spirals``  two interleaved spiral arms, ``turns`` turns each
===========  ==================================================================

Each takes ``n`` (the number of samples, split as evenly as possible between
the two classes), ``noise`` (the standard deviation of Gaussian noise added to
each coordinate) and ``seed``: every random number comes from
``random.Random(seed)``, so the same arguments give the same list on every
machine.  A sample is ``([x1, x2], [t])`` with t in {0, 1}, ready for a
network with one sigmoid output; ``one_hot=True`` gives ``[1, 0]`` / ``[0, 1]``
instead, for two softmax outputs.

``digits()`` loads the 8x8 handwritten digits that scikit-learn ships (no
download; install the extra ``neuronsim[datasets]``).
"""

import gzip
import math
import os
import random
from numbers import Real

from ..core.errors import NeuronsimError


def _target(label, one_hot, classes=2):
    if one_hot:
        return [1 if c == label else 0 for c in range(classes)]
    return [label]


def _labels(n):
    """n labels alternating 0, 1, 0, 1, ...: the classes differ by at most one."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n: expected a whole number of samples >= 1, got {n!r}")
    return [i % 2 for i in range(n)]


def _check_noise(noise):
    """A finite standard deviation >= 0 (nan, inf and negatives are refused)."""
    is_number = isinstance(noise, Real) and not isinstance(noise, bool)
    if not (is_number and math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise: expected a finite standard deviation >= 0, got {noise!r}")


def xor(n=200, noise=0.1, seed=0, one_hot=False):
    """Points around the corners (0,0), (0,1), (1,0), (1,1); t = x1 XOR x2.

    Class 1 alternates between (0,1) and (1,0), class 0 between (0,0) and
    (1,1); each point is its corner plus N(0, noise²) in each coordinate.
    """
    _check_noise(noise)
    rng = random.Random(seed)
    corners = {0: [(0, 0), (1, 1)], 1: [(0, 1), (1, 0)]}
    samples = []
    for i, label in enumerate(_labels(n)):
        cx, cy = corners[label][(i // 2) % 2]
        x = [cx + rng.gauss(0.0, noise), cy + rng.gauss(0.0, noise)]
        samples.append((x, _target(label, one_hot)))
    return samples


def circles(n=200, noise=0.05, seed=0, factor=0.5, one_hot=False):
    """Two concentric circles: the inner one of radius ``factor`` (t = 1), the
    outer one of radius 1 (t = 0).

    Points lie on the circles, not inside them: angles are uniform in
    [0, 2π) and a point is r·(cos θ, sin θ) plus noise (N(0, noise²) in each
    coordinate), so with noise 0 every point is exactly on its circle.
    """
    _check_noise(noise)
    if not 0 < factor < 1:
        raise ValueError(f"factor: expected a radius between 0 and 1, got {factor!r}")
    rng = random.Random(seed)
    samples = []
    for label in _labels(n):
        radius = factor if label == 1 else 1.0
        angle = rng.uniform(0.0, 2 * math.pi)
        x = [radius * math.cos(angle) + rng.gauss(0.0, noise),
             radius * math.sin(angle) + rng.gauss(0.0, noise)]
        samples.append((x, _target(label, one_hot)))
    return samples


def moons(n=200, noise=0.1, seed=0, one_hot=False):
    """Two half circles of radius 1: (cos θ, sin θ) for t = 0 and
    (1 - cos θ, 0.5 - sin θ) for t = 1, θ uniform in [0, π], plus noise."""
    _check_noise(noise)
    rng = random.Random(seed)
    samples = []
    for label in _labels(n):
        angle = rng.uniform(0.0, math.pi)
        if label == 0:
            cx, cy = math.cos(angle), math.sin(angle)
        else:
            cx, cy = 1.0 - math.cos(angle), 0.5 - math.sin(angle)
        x = [cx + rng.gauss(0.0, noise), cy + rng.gauss(0.0, noise)]
        samples.append((x, _target(label, one_hot)))
    return samples


def spirals(n=200, noise=0.05, seed=0, turns=1.5, one_hot=False):
    """Two spiral arms, the second the first turned by π.

    A point at s uniform in [0, 1] lies at radius s and angle
    2π·turns·s (+ π for t = 1), plus noise: radius 0 at the centre,
    radius 1 at the end of each arm.
    """
    _check_noise(noise)
    if turns <= 0:
        raise ValueError(f"turns: expected a positive number, got {turns!r}")
    rng = random.Random(seed)
    samples = []
    for label in _labels(n):
        s = rng.uniform(0.0, 1.0)
        angle = 2 * math.pi * turns * s + (math.pi if label == 1 else 0.0)
        x = [s * math.cos(angle) + rng.gauss(0.0, noise),
             s * math.sin(angle) + rng.gauss(0.0, noise)]
        samples.append((x, _target(label, one_hot)))
    return samples


TWO_D = {"xor": xor, "circles": circles, "moons": moons, "spirals": spirals}


def load(name, **options):
    """One of the 2-D data sets by name (``xor``, ``circles``, ``moons``, ``spirals``)."""
    try:
        make = TWO_D[name]
    except KeyError:
        raise ValueError(f"unknown data set {name!r} (known: {', '.join(TWO_D)})") from None
    return make(**options)


# ------------------------------------------------------------------ sequences
def long_range(n=100, steps=20, noise=1.0, seed=0):
    """Remember the first input: ``n`` sequences of ``steps`` steps, two inputs each.

    Step 1 holds the signal s = +1 or -1 (each with probability ½) on input 1
    and a marker 1 on input 2; steps 2..T hold noise on input 1, uniform in
    [-noise, noise], and 0 on input 2.  The target, at the last step only
    (many-to-one), is [1] if s = +1 and [0] if s = -1.  A sample is
    ``(xs, [t])`` with ``xs`` a list of T [x1, x2] steps; every number comes
    from ``random.Random(seed)``.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n: expected a whole number of sequences >= 1, got {n!r}")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 2:
        raise ValueError(f"steps: expected a whole number of steps >= 2, got {steps!r}")
    _check_noise(noise)
    rng = random.Random(seed)
    samples = []
    for _ in range(n):
        bit = rng.random() < 0.5
        xs = [[1.0 if bit else -1.0, 1.0]]
        xs += [[rng.uniform(-noise, noise), 0.0] for _ in range(steps - 1)]
        samples.append((xs, [1 if bit else 0]))
    return samples


# ------------------------------------------------------------------ splits
def split(samples, test_fraction=0.25, seed=0):
    """(train, test): a seeded shuffle, then the first ``test_fraction`` is the test set."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction: expected a number between 0 and 1, got {test_fraction!r}")
    order = list(range(len(samples)))
    random.Random(seed).shuffle(order)
    n_test = round(len(samples) * test_fraction)
    test = [samples[i] for i in order[:n_test]]
    train = [samples[i] for i in order[n_test:]]
    return train, test


def class_of(target):
    """The class a target stands for: its single value rounded (one output)
    or the index of its largest entry (one-hot)."""
    if len(target) == 1:
        return int(target[0] >= 0.5)
    return max(range(len(target)), key=target.__getitem__)


# ------------------------------------------------------------------ digits
INSTALL_DATASETS = 'pip install "neuronsim[datasets]"'


def digits(test_fraction=0.25, seed=0):
    """scikit-learn's 8x8 handwritten digits as (train, test) lists of pairs.

    1797 images of the digits 0-9 (the UCI optical-recognition test set that
    scikit-learn bundles; nothing is downloaded).  An input is the 64 pixel
    intensities, row by row, divided by 16 so that they lie in [0, 1]; a
    target is one-hot over the 10 classes.  The split is :func:`split` with
    ``test_fraction`` and ``seed``.

    The numbers are read from scikit-learn's own file (``digits.csv.gz``,
    what ``sklearn.datasets.load_digits`` reads), found without importing
    scikit-learn, whose import takes most of a second.
    """
    rows = _digits_rows()
    samples = [([float(v) / 16 for v in row[:-1]], _target(int(row[-1]), True, 10))
               for row in rows]
    return split(samples, test_fraction, seed)


DIGITS_FILE = ("datasets", "data", "digits.csv.gz")   # inside the installed sklearn package


def _digits_rows():
    """The rows of scikit-learn's digits.csv.gz: 64 pixels, then the label (text).

    The file is located with ``importlib.util.find_spec``, which finds the
    installed package without running it; where it is not found, the rows come
    from ``load_digits`` itself (the same numbers).
    """
    import importlib.util

    try:
        spec = importlib.util.find_spec("sklearn")
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise NeuronsimError("the digits data set comes with scikit-learn: "
                             f"{INSTALL_DATASETS}")
    for folder in spec.submodule_search_locations or ():
        path = os.path.join(folder, *DIGITS_FILE)
        if os.path.isfile(path):
            with gzip.open(path, "rt", encoding="ascii") as file:
                return [line.split(",") for line in file.read().split()]
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise NeuronsimError("the digits data set comes with scikit-learn: "
                             f"{INSTALL_DATASETS}") from None
    bunch = load_digits()
    return [pixels + [label] for pixels, label in zip(bunch.data.tolist(),
                                                      bunch.target.tolist())]

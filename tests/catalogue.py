"""Tiny networks that parametrised tests reuse, and a probe of what a command imports.

Each entry builds a fresh Network (so tests may train it) and gives a batch
of samples that fits it.
"""

import ast
import random
import subprocess
import sys

from neuronsim import Network

MAZUR_WEIGHTS = [[[0.15, 0.2], [0.25, 0.3]], [[0.4, 0.45], [0.5, 0.55]]]
MAZUR_BIASES = [[0.35, 0.35], [0.6, 0.6]]
MAZUR_SAMPLE = ([0.05, 0.1], [0.01, 0.99])


def mazur(**options):
    options.setdefault("update_biases", False)
    return Network.from_arrays(MAZUR_WEIGHTS, MAZUR_BIASES, "sigmoid", "half_sse", **options)


def xor(**options):
    weights = [[[1.0, -0.8], [-0.9, 1.1]], [[0.7, -0.6]]]
    biases = [[0.1, -0.2], [0.05]]
    return Network.from_arrays(weights, biases, ["tanh", "sigmoid"], "binary_cross_entropy",
                               **options)


XOR_SAMPLES = [([0, 0], [0]), ([0, 1], [1]), ([1, 0], [1]), ([1, 1], [0])]


def softmax_233(**options):
    weights = [[[0.2, -0.5], [0.4, 0.1], [-0.3, 0.6]],
               [[0.3, -0.2, 0.5], [-0.4, 0.2, 0.1], [0.25, 0.35, -0.15]]]
    biases = [[0.1, 0.0, -0.1], [0.05, -0.05, 0.0]]
    return Network.from_arrays(weights, biases, ["relu", "softmax"], "cross_entropy", **options)


SOFTMAX_SAMPLES = [([0.5, -1.0], [1, 0, 0]), ([1.5, 0.3], [0, 1, 0]), ([-0.7, 0.9], [0, 0, 1])]

# (output activation, loss) pairs that make sense together.
PAIRINGS = [
    ("sigmoid", "half_sse"), ("sigmoid", "sse"), ("sigmoid", "mse"),
    ("sigmoid", "binary_cross_entropy"), ("linear", "half_sse"), ("linear", "mse"),
    ("tanh", "sse"), ("softmax", "cross_entropy"), ("softmax", "half_sse"),
    ("relu", "mse"), ("leaky_relu", "half_sse"), ("linear", "sse"),
]
HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "linear"]


def random_network(sizes, hidden, output, loss, seed, **options):
    """A network with weights drawn from random.Random(seed) in [-1, 1]."""
    rng = random.Random(seed)
    weights = [[[rng.uniform(-1, 1) for _ in range(n_in)] for _ in range(n_out)]
               for n_in, n_out in zip(sizes, sizes[1:])]
    biases = [[rng.uniform(-0.5, 0.5) for _ in range(n_out)] for n_out in sizes[1:]]
    activations = [hidden] * (len(sizes) - 2) + [output]
    return Network.from_arrays(weights, biases, activations, loss, **options)


def random_samples(n_in, n_out, output, loss, count, seed):
    """Inputs in [-1, 1]; targets that suit the output activation and loss."""
    rng = random.Random(seed)
    samples = []
    for _ in range(count):
        x = [rng.uniform(-1, 1) for _ in range(n_in)]
        if loss == "cross_entropy":
            t = [0] * n_out
            t[rng.randrange(n_out)] = 1
        elif output in ("sigmoid", "softmax") or loss == "binary_cross_entropy":
            t = [rng.uniform(0.05, 0.95) for _ in range(n_out)]
        else:
            t = [rng.uniform(-1, 1) for _ in range(n_out)]
        samples.append((x, t))
    return samples


def modules_a_command_loads(argv, modules, timeout=120):
    """Run ``neuronsim ARGV`` (its printing swallowed) in a fresh python and return
    its exit status and which of ``modules`` it loaded, sorted; modules that
    python's own start-up had already loaded (site's .pth files can) do not count."""
    code = ("import contextlib, io, sys; started = set(sys.modules)\n"
            "from neuronsim.cli.main import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()): status = main({list(argv)!r})\n"
            f"print(repr((status, sorted(m for m in {list(modules)!r} "
            "if m in sys.modules and m not in started))))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])

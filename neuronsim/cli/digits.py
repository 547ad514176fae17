"""``neuronsim digits`` (and ``neuronsim demo digits``): real handwriting.

A 64-32-10 network learns scikit-learn's 8x8 digits neuron by neuron:
64 pixel inputs in [0, 1], 32 sigmoid hidden neurons, 10 softmax outputs
with cross-entropy (so the output delta is a - t), Xavier-initialised from
the seed, trained online (one update per image) for 10 epochs at learning
rate 0.1 on 75% of the 1797 images and tested on the other 25%.  It prints
the time taken, the test accuracy and the confusion matrix, and can plot
sample digits with their predictions (matplotlib).

Needs scikit-learn for the images (``pip install "neuronsim[datasets]"``;
nothing is downloaded).
"""

import sys
import time

from ..classroom import datasets
from ..classroom.progress import ProgressBar, train_with_progress
from ..core.errors import NeuronsimError
from ..core.network import Network
from . import budgets
from .explain import check_learning_rate

CLASSES = 10
DEFAULTS = {"hidden": 32, "epochs": 10, "learning_rate": 0.1, "seed": 0}


def build_network(hidden=32, seed=0, learning_rate=0.1):
    """64-hidden-10: sigmoid hidden layer, softmax outputs, cross-entropy,
    weights drawn by Xavier's rule from ``random.Random(seed)``."""
    spec = {
        "name": f"digits 64-{hidden}-10",
        "inputs": 64,
        "layers": [{"activation": "sigmoid", "size": hidden, "init": "xavier"},
                   {"activation": "softmax", "size": CLASSES, "init": "xavier"}],
        "loss": "cross_entropy",
        "learning_rate": learning_rate,
        "seed": seed,
    }
    return Network.from_spec(spec)


def predict(net, x):
    """The class with the largest output a_j (j from 0, the digit itself)."""
    outputs = net.forward_pass(x)
    return max(range(len(outputs)), key=outputs.__getitem__)


def confusion_matrix(true, predicted, classes=CLASSES):
    """matrix[i][j] = how many samples of class i were predicted as j."""
    matrix = [[0] * classes for _ in range(classes)]
    for t, p in zip(true, predicted):
        matrix[t][p] += 1
    return matrix


def evaluate(net, samples):
    """(accuracy, predictions, confusion matrix) of ``net`` on ``samples``."""
    true = [datasets.class_of(t) for _, t in samples]
    predicted = [predict(net, x) for x, _ in samples]
    correct = sum(t == p for t, p in zip(true, predicted))
    return correct / len(samples), predicted, confusion_matrix(true, predicted)


def format_confusion(matrix):
    """The confusion matrix as text: rows are the true digit, columns the predicted one."""
    width = max(3, len(str(max(max(row) for row in matrix))) + 1)
    lines = ["true \\ predicted " + "".join(f"{j:>{width}}" for j in range(len(matrix)))]
    for i, row in enumerate(matrix):
        lines.append(f"{i:>16} " + "".join(f"{v:>{width}}" for v in row))
    return "\n".join(lines)


def train_digits(epochs=10, hidden=32, learning_rate=0.1, seed=0, progress=None):
    """Train and test the digits network; returns a dict of what was measured.

    Keys: ``net``, ``train``/``test`` (sample lists), ``history`` (loss per
    epoch), ``seconds`` (training time), ``accuracy``, ``predictions``,
    ``confusion``.  The split uses ``seed`` and so do the initial weights and
    the shuffles: the same arguments give the same numbers.
    """
    train, test = datasets.digits(test_fraction=0.25, seed=seed)
    net = build_network(hidden, seed, learning_rate)
    start = time.perf_counter()
    history = train_with_progress(net, train, epochs, learning_rate, batch_size=1, seed=seed,
                                  progress=progress)
    seconds = time.perf_counter() - start
    accuracy, predictions, confusion = evaluate(net, test)
    return {"net": net, "train": train, "test": test, "history": history, "seconds": seconds,
            "accuracy": accuracy, "predictions": predictions, "confusion": confusion}


def report(result, epochs, learning_rate):
    """The text the command prints."""
    net, train, test = result["net"], result["train"], result["test"]
    correct = sum(row[i] for i, row in enumerate(result["confusion"]))
    sizes = "-".join(str(s) for s in net.sizes)
    seconds = result["seconds"]
    rate = epochs * len(train) / seconds if seconds > 0 else float("inf")
    lines = [
        f"neuronsim digits: a {sizes} network (sigmoid hidden, softmax outputs, "
        f"cross-entropy) learns scikit-learn's 8x8 handwritten digits, one neuron object "
        f"at a time.",
        f"trained on {len(train)} images, {epochs} epoch{'s' if epochs != 1 else ''} online, "
        f"learning rate "
        f"{learning_rate:g}: {seconds:.1f} s ({rate:.0f} samples/s)",
        "loss per epoch: " + ", ".join(f"{loss:.4f}" for loss in result["history"]),
        f"test accuracy: {100 * result['accuracy']:.1f}% ({correct} of {len(test)} images)",
        "",
        "confusion matrix (rows: true digit, columns: predicted digit)",
        format_confusion(result["confusion"]),
    ]
    return "\n".join(lines) + "\n"


# The training images of the split (three quarters of scikit-learn's 1797), for
# the work budget, known before scikit-learn is imported.
TRAIN_IMAGES = 1348


def run(epochs, hidden, learning_rate, seed, plot=None, quiet=False):
    """Train, print the report and write the plot if asked; returns 0."""
    for name, value in (("--epochs", epochs), ("--hidden", hidden)):
        if value < 1:
            raise NeuronsimError(f"{name}: expected at least 1, got {value}")
    check_learning_rate(learning_rate)
    size = budgets.NetworkSize([64, hidden, 10], 65 * hidden + (hidden + 1) * 10,
                               samples=TRAIN_IMAGES)
    budgets.check_network("digits", size)
    budgets.for_train(epochs, command="digits",
                      narrow="give fewer --epochs or a smaller --hidden")(size, "float")
    if plot:
        from ..classroom.plots import figure_format, require_matplotlib

        figure_format(plot)       # before the training, not after it
        require_matplotlib()
    progress = ProgressBar(0, stream=sys.stderr, enabled=False if quiet else None)
    result = train_digits(epochs, hidden, learning_rate, seed, progress)
    text = report(result, epochs, learning_rate)
    if plot:
        from ..classroom.plots import digits_figure, save_figure

        save_figure(digits_figure(result["test"], result["predictions"]), plot)
        text += f"\nwrote sample test digits with their predictions to {plot}\n"
    else:
        text += _plot_hint()
    sys.stdout.write(text)
    return 0


def _plot_hint():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return ('\n(to plot sample digits with predictions: pip install "neuronsim[plot]", '
                "then add --plot digits.png)\n")
    return "\n(add --plot digits.png to plot sample digits with their predictions)\n"


def run_digits(args):
    return run(args.epochs, args.hidden, args.learning_rate, args.seed, args.plot, args.quiet)


def run_demo_digits(args):
    """``neuronsim demo digits``: the default configuration; ``-o FILE`` plots."""
    return run(plot=getattr(args, "output", None), quiet=False, **DEFAULTS)


def register(subparsers):
    parser = subparsers.add_parser(
        "digits", help="train a 64-32-10 network on scikit-learn's 8x8 digits",
        description="Train a 64-hidden-10 network (sigmoid hidden, softmax + cross-entropy) "
                    "neuron by neuron on scikit-learn's 8x8 handwritten digits and print the "
                    "time taken, the test accuracy and the confusion matrix.  Needs "
                    "scikit-learn: pip install \"neuronsim[datasets]\".")
    parser.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    parser.add_argument("--hidden", type=int, default=DEFAULTS["hidden"],
                        help="hidden neurons (default 32)")
    parser.add_argument("--learning-rate", type=float, default=DEFAULTS["learning_rate"],
                        metavar="ETA")
    parser.add_argument("--seed", type=int, default=DEFAULTS["seed"],
                        help="seed of the split, the initial weights and the shuffles")
    parser.add_argument("--plot", metavar="FILE",
                        help="save sample test digits with predictions (.png; needs matplotlib)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=run_digits)

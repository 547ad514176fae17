"""``neuronsim demo optimizers``: SGD, momentum, RMSprop, Adagrad, Adam and AdamW
on the bundled XOR problem (:mod:`neuronsim.classroom.optimizer_race`).

Prints a table of the steps each optimizer needs to reach a loss; ``-o
FILE.svg`` writes the loss curves in one plot (SVG written by neuronsim
itself, and FILE.png beside it when matplotlib is installed), ``-o FILE.png``
the PNG only.  The work is fixed (six runs of 500 full-batch epochs of a 2-2-1
network), and the same every time: the same bytes in every file.
"""

import os

from ..classroom.optimizer_race import EPOCHS, PROBLEM, TARGETS, race, steps_table
from ..classroom.plots import loss_curves_figure, loss_curves_svg, save_png_deterministic
from ..core.errors import NeuronsimError
from ..files.atomic import atomic_write_text
from ..render.numfmt import format_number
from ..render.plain_table import plain_table

TITLE = f"Optimizers on {PROBLEM.upper()} (2-2-1, full batch)"


def run_demo_optimizers(args):
    output = getattr(args, "output", None)
    if output:
        extension = os.path.splitext(output)[1].lower()
        if extension not in (".svg", ".png"):
            raise NeuronsimError(f"-o {output}: give a file name ending in .svg (the plot, and "
                                 "a .png beside it with matplotlib) or .png")
    runs = race()
    rows = []
    for label, optimizer, rate, *reached, final in steps_table(runs):
        rows.append([label, optimizer, format_number(rate)]
                    + ["—" if steps is None else str(steps) for steps in reached]
                    + [format_number(final, args.digits)])
    headers = (["optimizer", "torch.optim", "η"] + [f"E ≤ {t}" for t in TARGETS]
               + [f"E after {EPOCHS}"])
    text = (f"neuronsim demo optimizers: the bundled {PROBLEM} network (2 tanh hidden neurons, "
            "a sigmoid output, binary cross-entropy) trained from the same weights by six "
            f"optimizers, full batch (one update per epoch), {EPOCHS} epochs each.  Each "
            "optimizer has its own learning rate η.  The columns E ≤ … give the steps "
            "(updates) each needs to reach that loss; — means it did not.\n\n"
            + plain_table(rows, headers) + "\n")
    print(text, end="")
    if not output:
        print("\n-o FILE.svg writes the loss curves in one plot (and FILE.png with matplotlib).")
        return 0
    curves = [(run.label, run.losses) for run in runs]
    stem, extension = os.path.splitext(output)
    if extension.lower() == ".svg":
        atomic_write_text(output, loss_curves_svg(curves, TITLE))
        print(f"wrote {output}")
        png = stem + ".png"
    else:
        png = output
    try:
        figure = loss_curves_figure(curves, TITLE)
    except NeuronsimError:
        if extension.lower() == ".png":
            raise
        print('(no PNG: matplotlib is not installed; pip install "neuronsim[plot]")')
        return 0
    save_png_deterministic(figure, png)
    print(f"wrote {png}")
    return 0

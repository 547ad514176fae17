"""``train``'s options beyond plain gradient descent: --optimizer and its torch
options, --clip-norm / --clip-value, --l1 / --l2, --schedule NAME KEY=VALUE...

Options given on the command line replace the file's (docs/optimizers.md); an
--optimizer equal to the file's (same name and options) keeps the saved state,
so that training a saved network further goes on where it stopped.
"""

from ..core.errors import NeuronsimError

# flag -> (torch's option name, which optimizers take it)
OPTIMIZER_FLAGS = {
    "momentum": ("momentum", ("sgd", "rmsprop")),
    "dampening": ("dampening", ("sgd",)),
    "nesterov": ("nesterov", ("sgd",)),
    "alpha": ("alpha", ("rmsprop",)),
    "centered": ("centered", ("rmsprop",)),
    "lr_decay": ("lr_decay", ("adagrad",)),
    "betas": ("betas", ("adam", "adamw")),
    "amsgrad": ("amsgrad", ("adam", "adamw")),
    "eps": ("eps", ("rmsprop", "adagrad", "adam", "adamw")),
    "weight_decay": ("weight_decay", ("sgd", "rmsprop", "adagrad", "adam", "adamw")),
}


def add_optimizer_options(parser):
    group = parser.add_argument_group(
        "optimizers, penalties, clipping and schedules (docs/optimizers.md)")
    group.add_argument("--optimizer", choices=["sgd", "rmsprop", "adagrad", "adam", "adamw"],
                       help="update with this torch.optim optimizer (the rate is the "
                            "learning rate); default: the file's, or plain gradient descent")
    group.add_argument("--momentum", type=float, metavar="MU", help="sgd, rmsprop")
    group.add_argument("--dampening", type=float, metavar="TAU", help="sgd")
    group.add_argument("--nesterov", action="store_true", default=None, help="sgd")
    group.add_argument("--alpha", type=float, metavar="A", help="rmsprop's smoothing")
    group.add_argument("--centered", action="store_true", default=None, help="rmsprop")
    group.add_argument("--lr-decay", type=float, metavar="D", help="adagrad")
    group.add_argument("--betas", type=float, nargs=2, metavar=("B1", "B2"), help="adam, adamw")
    group.add_argument("--amsgrad", action="store_true", default=None, help="adam, adamw")
    group.add_argument("--eps", type=float, metavar="EPS", help="rmsprop, adagrad, adam, adamw")
    group.add_argument("--weight-decay", type=float, metavar="LAMBDA",
                       help="coupled (g + λθ); decoupled for adamw")
    group.add_argument("--clip-norm", type=float, metavar="N",
                       help="clip each batch gradient to global 2-norm N (clip_grad_norm_)")
    group.add_argument("--clip-value", type=float, metavar="V",
                       help="clip each gradient to [-V, V] (clip_grad_value_)")
    group.add_argument("--l1", type=float, metavar="LAMBDA1", help="add λ1·Σ|w| to the loss")
    group.add_argument("--l2", type=float, metavar="LAMBDA2", help="add λ2/2·Σw² to the loss")
    group.add_argument("--schedule", nargs="+", metavar=("NAME", "KEY=VALUE"),
                       help="learning rate per epoch: step step_size=N [gamma=G], "
                            "exponential gamma=G, cosine T_max=N [eta_min=E], "
                            "linear [start_factor=F end_factor=F total_iters=N]")


def apply_optimizer_options(net, args):
    """Set what the options ask on ``net``; returns a short description for the
    report header ("" for plain gradient descent)."""
    given = {option: getattr(args, flag) for flag, (option, _) in OPTIMIZER_FLAGS.items()
             if getattr(args, flag, None) is not None}
    if args.optimizer is None and given:
        flag = "--" + next(iter(given)).replace("_", "-")
        raise NeuronsimError(f"{flag}: an option of an optimizer: add --optimizer NAME")
    if args.optimizer is not None:
        for option in given:
            flag, (_, takers) = "--" + option.replace("_", "-"), OPTIMIZER_FLAGS[option]
            if args.optimizer not in takers:
                raise NeuronsimError(f"{flag}: not an option of {args.optimizer} "
                                     f"(it is one of {', '.join(takers)})")
        _set_optimizer(net, args.optimizer, given)
    if args.clip_norm is not None and args.clip_value is not None:
        raise NeuronsimError("--clip-norm, --clip-value: give one of them")
    if args.clip_norm is not None or args.clip_value is not None:
        _checked(lambda: net.set_clip(max_norm=args.clip_norm, value=args.clip_value),
                 "--clip-norm" if args.clip_norm is not None else "--clip-value")
    if args.l1 is not None or args.l2 is not None:
        _checked(lambda: net.set_penalty(l1=args.l1 or 0, l2=args.l2 or 0), "--l1/--l2")
    if args.schedule:
        name, options = args.schedule[0], _key_values(args.schedule[1:])
        _checked(lambda: net.set_schedule(name, **options), "--schedule")
    return describe(net)


def _set_optimizer(net, name, options):
    if "betas" in options:
        options["betas"] = tuple(options["betas"])
    current = net.optimizer
    if current is not None and current.name == name:
        merged = dict(current.options, **options)
        if merged == current.options:
            return   # the file's optimizer: keep its state
    _checked(lambda: net.set_optimizer(name, **options), "--optimizer")


def _checked(action, flag):
    try:
        action()
    except ValueError as exc:
        raise NeuronsimError(f"{flag}: {exc}") from None


def _key_values(words):
    """["T_max=50", "eta_min=0.001"] -> {"T_max": 50, "eta_min": 0.001}."""
    options = {}
    for word in words:
        key, equals, text = word.partition("=")
        if not equals or not key:
            raise NeuronsimError(f"--schedule: expected KEY=VALUE after the name, got {word!r}")
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise NeuronsimError(f"--schedule {key}: expected a number, got {text!r}") \
                    from None
        options[key] = value
    return options


def describe(net):
    """", optimizer adam (betas 0.9 0.999, ...), clip ..., schedule ..." for the header."""
    parts = []
    if net.optimizer is not None:
        options = [f"{k} {' '.join(map(str, v)) if isinstance(v, tuple) else v}"
                   for k, v in net.optimizer.options.items()
                   if v != net.optimizer.kind.defaults[k]]
        parts.append(f"optimizer {net.optimizer.name}"
                     + (f" ({', '.join(options)})" if options else ""))
    if net.penalty is not None:
        parts.append(f"penalty l1 {net.penalty.l1} l2 {net.penalty.l2}")
    if net.clip is not None:
        parts.append(f"clip {' '.join(f'{k} {v}' for k, v in net.clip.to_spec().items())}")
    if net.schedule is not None:
        parts.append(f"schedule {net.schedule.name} "
                     + " ".join(f"{k}={v}" for k, v in net.schedule.options.items()))
    return "".join(", " + part for part in parts)

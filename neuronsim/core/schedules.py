"""Learning-rate schedules, as torch.optim.lr_scheduler computes them.

A schedule changes the rate η once per epoch (``step()`` at the end of each
epoch of ``Network.train``, as a torch loop calls ``scheduler.step()`` after
its epoch).  ``last_epoch`` counts the steps taken; ``lr`` is the rate in use.
torch computes each new rate from the previous one (its "chainable" form),
not from the closed formula, and so does this module, to the last bit:

``step``         (StepLR: step_size, gamma)  η ← γ·η when last_epoch is a
                 multiple of step_size
``exponential``  (ExponentialLR: gamma)      η ← γ·η every epoch
``cosine``       (CosineAnnealingLR: T_max, eta_min)
                 η ← (1 + cos(π·e/T))/(1 + cos(π·(e−1)/T))·(η − η_min) + η_min,
                 or, when (e − 1 − T) is a multiple of 2T,
                 η ← η + (η₀ − η_min)·(1 − cos(π/T))/2
                 (closed form: η_min + (η₀ − η_min)·(1 + cos(π·e/T))/2)
``linear``       (LinearLR warm-up: start_factor, end_factor, total_iters)
                 η = η₀·start_factor at epoch 0, then for e ≤ total_iters
                 η ← η·(1 + (end − start)/(total_iters·start + (e − 1)·(end − start)))

η₀ is ``base_lr``, the network's learning rate when the schedule started.
"""

from numbers import Integral, Real

from .errors import NeuronsimError


class ScheduleError(NeuronsimError, ValueError):
    """A bad schedule name or option (the message names it)."""


SCHEDULES = {
    "step": {"step_size": None, "gamma": 0.1},
    "exponential": {"gamma": None},
    "cosine": {"T_max": None, "eta_min": 0},
    "linear": {"start_factor": 1 / 3, "end_factor": 1.0, "total_iters": 5},
}
WHOLE = ("step_size", "T_max", "total_iters")


def check_schedule_options(name, options, where="schedule"):
    """The options of schedule ``name`` with torch's defaults and checks."""
    if name not in SCHEDULES:
        raise ScheduleError(f"{where}.name: unknown schedule {name!r} "
                            f"(known: {', '.join(SCHEDULES)})")
    defaults = SCHEDULES[name]
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ScheduleError(f"{where}.{unknown[0]}: not an option of the {name} schedule "
                            f"(its options: {', '.join(defaults)})")
    out = {}
    for key, default in defaults.items():
        value = options.get(key, default)
        place = f"{where}.{key}"
        if value is None:
            raise ScheduleError(f"{place}: missing (the {name} schedule needs it)")
        if key in WHOLE:
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise ScheduleError(f"{place}: expected a whole number of at least 1, "
                                    f"got {value!r}")
        elif (isinstance(value, bool) or not isinstance(value, Real)
              or not 0 <= value < float("inf")):
            raise ScheduleError(f"{place}: expected a finite number >= 0, got {value!r}")
        out[key] = value
    if name == "linear":
        if not 0 < out["start_factor"] <= 1:
            raise ScheduleError(f"{where}.start_factor: expected a number in (0, 1], "
                                f"got {out['start_factor']!r}")
        if not out["end_factor"] <= 1:
            raise ScheduleError(f"{where}.end_factor: expected a number in [0, 1], "
                                f"got {out['end_factor']!r}")
    return out


class Schedule:
    """``Schedule("cosine", T_max=10)``: the rate per epoch.  ``lr`` is None
    until :meth:`start` (the first update) sets η₀ = ``base_lr``."""

    def __init__(self, name, last_epoch=0, lr=None, base_lr=None, **options):
        self.name = name
        self.options = check_schedule_options(name, options)
        self.last_epoch = last_epoch
        self.lr = lr
        self.base_lr = base_lr
        self.numbers = None

    def bind(self, numbers):
        if self.name == "cosine" and getattr(numbers, "exact", False):
            raise ScheduleError("schedule cosine: numbers='fraction' cannot hold cos(π·e/T); "
                                "use numbers='precise', or the step, exponential or linear "
                                "schedule, which are exact")
        self.numbers = numbers
        convert = numbers.convert
        self._o = {k: (v if k in WHOLE else convert(v)) for k, v in self.options.items()}
        if self.lr is not None:
            self.lr, self.base_lr = convert(self.lr), convert(self.base_lr)
        return self

    def start(self, base_lr):
        """Epoch 0 (torch: the scheduler's creation): η₀ = base_lr."""
        self.base_lr = base_lr
        self.last_epoch = 0
        self.lr = base_lr * self._o["start_factor"] if self.name == "linear" else base_lr

    def rate(self, base_lr):
        """The rate in use (starting the schedule at ``base_lr`` if it has not started)."""
        if self.lr is None:
            self.start(base_lr)
        return self.lr

    def step(self):
        """The end of an epoch: last_epoch + 1 and the next rate (torch's get_lr)."""
        if self.lr is None:
            return
        self.last_epoch = e = self.last_epoch + 1
        o, lr = self._o, self.lr
        if self.name == "step":
            if e % o["step_size"] == 0:
                lr = lr * o["gamma"]
        elif self.name == "exponential":
            lr = lr * o["gamma"]
        elif self.name == "cosine":
            cos, pi, T, eta_min = self.numbers.cos, self.numbers.pi, o["T_max"], o["eta_min"]
            if (e - 1 - T) % (2 * T) == 0:
                lr = lr + (self.base_lr - eta_min) * (1 - cos(pi / T)) / 2
            else:
                lr = ((1 + cos(pi * e / T)) / (1 + cos(pi * (e - 1) / T)) * (lr - eta_min)
                      + eta_min)
        elif e <= o["total_iters"]:   # linear
            start, end = o["start_factor"], o["end_factor"]
            lr = lr * (1 + (end - start) / (o["total_iters"] * start + (e - 1) * (end - start)))
        self.lr = lr

    def to_spec(self, to_json):
        spec = {"name": self.name}
        spec.update(self.options)
        if self.lr is not None:
            spec.update({"last_epoch": self.last_epoch, "lr": to_json(self.lr),
                         "base_lr": to_json(self.base_lr)})
        return spec

    def __repr__(self):
        return f"Schedule({self.name!r}, last_epoch={self.last_epoch}, lr={self.lr!r})"

"""``neuronsim serve``'s limits from the command line: --unused-minutes sets
Limits.unused_seconds as --idle-minutes sets Limits.idle_seconds, and a bad
value is one line naming the option, exit status 2."""

import pytest

from neuronsim.cli.main import main


def need_extra():
    """Skip (saying so) without the serve extra; CI installs it."""
    for name in ("starlette", "uvicorn"):
        pytest.importorskip(name, reason='the serve extra: pip install "neuronsim[serve]"')


def limits_of(monkeypatch, *args):
    """The Limits ``neuronsim serve ARGS`` would start its app with (nothing starts)."""
    need_extra()
    import uvicorn

    import neuronsim.serve.app as app

    seen = {}

    def create_app(limits, **options):
        seen["limits"] = limits
        return object()

    monkeypatch.setattr(app, "create_app", create_app)
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    assert main(["serve", *args, "--workers", "0"]) == 0
    return seen["limits"]


def test_unused_minutes_sets_the_limit_and_the_defaults_stay(monkeypatch, capsys):
    limits = limits_of(monkeypatch)
    assert (limits.unused_seconds, limits.idle_seconds, limits.max_sessions) == (120, 1800, 100)
    limits = limits_of(monkeypatch, "--unused-minutes", "0.5", "--idle-minutes", "10",
                       "--max-sessions", "3")
    assert (limits.unused_seconds, limits.idle_seconds, limits.max_sessions) == (30, 600, 3)
    capsys.readouterr()


@pytest.mark.parametrize("value, says", [("0", "expected a number > 0, got 0"),
                                         ("-1", "expected a number > 0, got -1"),
                                         ("nan", "--unused-minutes"),
                                         ("inf", "--unused-minutes"),
                                         ("two", "--unused-minutes")])
def test_a_bad_unused_minutes_is_one_line_and_exit_status_2(capsys, value, says):
    need_extra()
    try:
        status = main(["serve", "--unused-minutes", value])
    except SystemExit as exit:     # argparse's own refusal (not a finite number)
        status = exit.code
    assert status == 2
    err = capsys.readouterr().err
    assert says in err and "--unused-minutes" in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_the_help_names_the_option(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["serve", "--help"])
    assert exit.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--unused-minutes M" in text and "gives its place to a new tab (default 2)" in text

"""User text escaped for the format it goes into: LaTeX, Markdown, the terminal."""

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuronsim.cli.main import main
from neuronsim.render.escape import (
    escape_for,
    latex_text,
    markdown_cell,
    terminal_output,
    terminal_text,
)

HOSTILE = ["\\input{/etc/passwd}", "\\write18{rm -rf ~}", "$x$", "a|b", "line\nbreak",
           "\x1b[2J\x1b[31mred", "\u202etxt.exe", "<script>alert(1)</script>", "%comment",
           "^_&#~{}"]
# What latex_text writes for its special characters; nothing else may start with "\".
LATEX_ESCAPES = re.compile(r"\\(textbackslash|textless|textgreater|textbar)\{\}|\\[{}$&#_%]"
                           r"|\\\^\{\}|\\~\{\}")


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=40) | st.sampled_from(HOSTILE))
def test_latex_text_lets_no_command_through(text):
    escaped = LATEX_ESCAPES.sub("", latex_text(text))
    assert "\\" not in escaped and "{" not in escaped and "}" not in escaped
    assert "$" not in escaped and "%" not in escaped and "\n" not in escaped


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=40) | st.sampled_from(HOSTILE))
def test_markdown_cells_and_terminal_text(text):
    cell = markdown_cell(text)
    assert "\n" not in cell and "\r" not in cell and "<" not in cell
    assert re.search(r"(?<!\\)\|", cell.replace("\\\\", "")) is None
    shown = terminal_text(text)
    assert not any(ord(c) < 32 or 0x7f <= ord(c) <= 0x9f for c in shown)
    assert "\n" in terminal_output("a\nb") and "\x1b" not in terminal_output("\x1b[2J")


def test_escape_for_names_the_formats():
    assert escape_for("html")("<b>") == "&lt;b&gt;"
    with pytest.raises(ValueError, match="unknown format 'rtf'"):
        escape_for("rtf")


@pytest.fixture
def answers(tmp_path):
    path = tmp_path / "answers.csv"
    path.write_text('cell,value\nz_1^(2),"\\input{/etc/passwd}|x"\na_1^(2),"\x1b[31m1|\n2"\n',
                    encoding="utf-8")
    return str(path)


def test_check_latex_lets_no_student_command_through(capsys, answers):
    assert main(["check", "mazur", answers, "--format", "latex"]) == 1
    out = capsys.readouterr().out
    assert "\\input" not in out and "\\textbackslash{}input\\{/etc/passwd\\}\\textbar{}x" in out
    assert "\x1b" not in out


def test_check_markdown_keeps_the_table_whole(capsys, answers):
    assert main(["check", "mazur", answers, "--format", "markdown"]) == 1
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("|")]
    assert len({line.count("|") - line.count("\\|") for line in rows}) == 1
    assert "\\\\input{/etc/passwd}\\|x" in out and "\x1b" not in out


def test_plain_output_shows_escape_sequences(capsys, answers):
    assert main(["check", "mazur", answers]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[31m1|\\n2" in out


def test_network_names_are_escaped_everywhere(capsys, tmp_path):
    path = tmp_path / "named.json"
    name = "\x1b[2J\u202e\\input{x}|\nnext"
    path.write_text(json.dumps({
        "name": name, "inputs": 1,
        "layers": [{"activation": "sigmoid", "weights": [[0.5]], "biases": [0.1]}],
        "learning_rate": 0.5, "samples": [{"input": [1], "target": [0]}]}))
    assert main(["step", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\\x1b[2J\\u202e" in out
    assert main(["worksheet", str(path), "--format", "latex"]) == 0
    out = capsys.readouterr().out
    assert "\\input" not in out and "\\textbackslash{}input\\{x\\}" in out
    assert main(["worksheet", str(path), "--format", "markdown"]) == 0
    title = capsys.readouterr().out.splitlines()[0]
    assert title.startswith("## Worksheet") and "\\|" in title and "next" in title
    report = tmp_path / "r.html"
    assert main(["report", str(path), "-o", str(report)]) == 0
    assert "\x1b" not in report.read_text() and "<\\input" not in report.read_text()


def test_error_lines_show_control_characters(capsys, tmp_path):
    bad = str(tmp_path / "x\x1b[2Jy\nz.json")
    assert main(["trace", bad]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "x\\x1b[2Jy\\nz.json" in err
    assert len(err.strip().splitlines()) == 1

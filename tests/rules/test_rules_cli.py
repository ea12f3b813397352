"""The command line, run as a real process: output formats and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

POLICY = """policy "cli"
if item.customized then reject "Personalised items cannot be returned"
if value < 10 then refund_without_return
if value < 5 then refund
else manual_review
on delivery_failed:
  if value >= 50 then notify "confirm_address", set_deadline "redelivery" 12 days
on deadline "redelivery":
  if value > 0 then partial_refund 20%
example "cheap" : value = 5 -> refund_without_return
example "redelivery" on delivery_failed: value = 60 ->
    notify "confirm_address", set_deadline "redelivery" 12 days
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rules", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        encoding="utf-8",
    )


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "policy": tmp_path / "p.policy",
        "case": tmp_path / "case.json",
        "bad": tmp_path / "bad.policy",
        "failing": tmp_path / "failing.policy",
    }
    paths["policy"].write_text(POLICY, encoding="utf-8")
    paths["case"].write_text(json.dumps({"value": 60, "item": {"customized": False}}), encoding="utf-8")
    paths["bad"].write_text(
        'if valeu < 10 then refund\nif value > 3 refund\nif market == "USA" then hold\n', encoding="utf-8"
    )
    paths["failing"].write_text(
        'if value < 10 then refund\nexample "wrong": value = 50 -> refund\n', encoding="utf-8"
    )
    return paths


def test_check_valid_policy_exits_0(files: dict[str, Path]) -> None:
    result = run("check", str(files["policy"]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error:" not in result.stdout


def test_check_prints_warnings_but_exits_0(files: dict[str, Path]) -> None:
    result = run("check", str(files["policy"]))
    assert f"{files['policy']}:4:1: warning: this rule can never apply" in result.stdout


def test_check_invalid_policy_one_line_per_problem(files: dict[str, Path]) -> None:
    result = run("check", str(files["bad"]), "--brief")
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"{files['bad']}:1:4: error: unknown field `valeu`; did you mean `value`?",
        f"{files['bad']}:2:14: error: `then` is missing: write `if CONDITION then ACTION`",
        f"{files['bad']}:3:14: error: `USA` is not a valid value for `market`; did you mean `US`?",
    ]


def test_check_shows_caret_excerpts_indented(files: dict[str, Path]) -> None:
    lines = run("check", str(files["bad"])).stdout.splitlines()
    assert lines[1] == "    if valeu < 10 then refund"
    assert lines[2] == "       ^"


def test_check_in_chinese(files: dict[str, Path]) -> None:
    result = run("check", str(files["bad"]), "--lang", "zh", "--brief")
    assert "未知字段 `valeu`；您是不是要写 `value`？" in result.stdout


def test_check_runs_examples(files: dict[str, Path]) -> None:
    result = run("check", str(files["failing"]))
    assert result.returncode == 1
    assert f'{files["failing"]}:2:1: error: example "wrong" expected refund' in result.stdout


def test_decide_prints_exactly_the_contract_keys(files: dict[str, Path]) -> None:
    result = run("decide", str(files["policy"]), "--case", str(files["case"]), "--event", "delivery_failed")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "event": "delivery_failed",
        "actions": [
            {"name": "notify", "args": ["confirm_address"]},
            {"name": "set_deadline", "args": ["redelivery", {"seconds": 1036800}]},
        ],
        "rule": {"line": 7, "name": None},
    }
    assert len(result.stdout.strip().splitlines()) == 1


def test_decide_default_event_and_else(files: dict[str, Path]) -> None:
    data = json.loads(run("decide", str(files["policy"]), "--case", str(files["case"])).stdout)
    assert data == {
        "event": "case_opened",
        "actions": [{"name": "manual_review", "args": []}],
        "rule": {"line": 5, "name": None},
    }


def test_decide_deadline_event_echoes_argument(files: dict[str, Path]) -> None:
    data = json.loads(
        run(
            "decide", str(files["policy"]), "--case", str(files["case"]), "--event", "deadline:redelivery"
        ).stdout
    )
    assert data == {
        "event": "deadline:redelivery",
        "actions": [{"name": "partial_refund", "args": [{"percent": 20}]}],
        "rule": {"line": 9, "name": None},
    }


def test_decide_event_without_section(files: dict[str, Path]) -> None:
    data = json.loads(
        run("decide", str(files["policy"]), "--case", str(files["case"]), "--event", "dispute_opened").stdout
    )
    assert data == {
        "event": "dispute_opened",
        "actions": [{"name": "manual_review", "args": []}],
        "rule": None,
    }


def test_decide_explain_adds_explanation(files: dict[str, Path]) -> None:
    data = json.loads(run("decide", str(files["policy"]), "--case", str(files["case"]), "--explain").stdout)
    assert data["explanation"]["outcome"] == "else"


def test_decide_with_invalid_policy_prints_errors_and_exits_1(files: dict[str, Path]) -> None:
    result = run("decide", str(files["bad"]), "--case", str(files["case"]))
    assert result.returncode == 1
    assert "error: unknown field `valeu`" in result.stdout


@pytest.mark.parametrize(
    "command", [["check"], ["test"], ["decide", "--case", "CASE"], ["explain", "--case", "CASE"]]
)
def test_missing_policy_file_exits_2(files: dict[str, Path], command: list[str]) -> None:
    args = [a.replace("CASE", str(files["case"])) for a in command]
    result = run(args[0], str(files["policy"].with_name("nope.policy")), *args[1:])
    assert result.returncode == 2
    assert "no such policy file" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "content, words",
    [
        (None, "no such case file"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "one JSON object"),
    ],
)
def test_bad_case_file_exits_2(files: dict[str, Path], content: str | None, words: str) -> None:
    case = files["case"].with_name("other.json")
    if content is not None:
        case.write_text(content, encoding="utf-8")
    result = run("decide", str(files["policy"]), "--case", str(case))
    assert result.returncode == 2
    assert words in result.stderr


def test_policy_that_is_not_utf8_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "latin.policy"
    path.write_bytes(b'if sku == "\xe9" then refund')
    assert run("check", str(path)).returncode == 2


def test_folder_instead_of_file_exits_2(tmp_path: Path) -> None:
    assert run("check", str(tmp_path)).returncode == 2


def test_test_command_passes(files: dict[str, Path]) -> None:
    result = run("test", str(files["policy"]))
    assert result.returncode == 0
    assert "2 examples, 2 passed, 0 failed" in result.stdout


def test_test_command_reports_failures_with_explanation(files: dict[str, Path]) -> None:
    result = run("test", str(files["failing"]))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert (
        lines[0] == f'{files["failing"]}:2:1: error: example "wrong" expected refund '
        "but the policy decided manual_review"
    )
    assert any("value < 10 is false (value = 50)" in line for line in lines)


@pytest.mark.parametrize("lang, words", [("en", "the rule on line"), ("zh", "第 7 行的规则")])
def test_explain_command(files: dict[str, Path], lang: str, words: str) -> None:
    result = run(
        "explain",
        str(files["policy"]),
        "--case",
        str(files["case"]),
        "--event",
        "delivery_failed",
        "--lang",
        lang,
    )
    assert result.returncode == 0
    assert words in result.stdout


def test_library_imports_neither_flask_nor_sqlalchemy() -> None:
    code = (
        "import sys, rules; rules.compile_policy('if value < 1 then refund'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'sqlalchemy')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stderr

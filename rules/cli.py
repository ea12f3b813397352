"""The command line: `python -m rules check|decide|test|explain FILE`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from .diagnostics import ERROR, Diagnostic, PolicyError
from .examples import run_examples
from .policy import CompiledPolicy, check, compile_policy

EXIT_OK, EXIT_INVALID, EXIT_BAD_INPUT = 0, 1, 2


class _BadInput(Exception):
    """A file that can't be read or parsed as JSON: exit 2 with a sentence, never a traceback."""


def _read(path: str, what: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise _BadInput(f"{path}: no such {what} file") from None
    except IsADirectoryError:
        raise _BadInput(f"{path}: is a folder, not a {what} file") from None
    except UnicodeDecodeError:
        raise _BadInput(f"{path}: the {what} file is not UTF-8 text") from None
    except OSError as error:
        raise _BadInput(f"{path}: cannot read the {what} file ({error.strerror or error})") from None


def _case(path: str) -> dict[str, Any]:
    try:
        facts = json.loads(_read(path, "case"), parse_float=_decimal)
    except json.JSONDecodeError as error:
        raise _BadInput(
            f"{path}:{error.lineno}:{error.colno}: the case file is not valid JSON ({error.msg})"
        ) from None
    if not isinstance(facts, dict):
        raise _BadInput(f"{path}: the case file must hold one JSON object of case facts")
    return facts


def _decimal(text: str) -> Any:
    from decimal import Decimal

    return Decimal(text)


def _print_diagnostics(diagnostics: Sequence[Diagnostic], filename: str, args: argparse.Namespace) -> None:
    for diag in diagnostics:
        text = diag.format(filename, args.lang)
        print(text.splitlines()[0] if args.brief else text)


def _compile(args: argparse.Namespace) -> CompiledPolicy | None:
    text = _read(args.file, "policy")
    try:
        compiled = compile_policy(text, examples=False)
    except PolicyError as error:
        _print_diagnostics(error.errors + error.warnings, args.file, args)
        return None
    return compiled


def cmd_check(args: argparse.Namespace) -> int:
    diagnostics = check(_read(args.file, "policy"))
    _print_diagnostics(diagnostics, args.file, args)
    return EXIT_INVALID if any(d.severity == ERROR for d in diagnostics) else EXIT_OK


def cmd_decide(args: argparse.Namespace) -> int:
    compiled = _compile(args)
    if compiled is None:
        return EXIT_INVALID
    decision = compiled.decide(_case(args.case), args.event)
    print(json.dumps(decision.to_dict(explanation=args.explain), ensure_ascii=False))
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    compiled = _compile(args)
    if compiled is None:
        return EXIT_INVALID
    print(compiled.decide(_case(args.case), args.event).explain_text(args.lang))
    return EXIT_OK


def cmd_test(args: argparse.Namespace) -> int:
    compiled = _compile(args)
    if compiled is None:
        return EXIT_INVALID
    results = run_examples(compiled)
    failed = [r for r in results if not r.passed]
    by_line = {e.line: e for e in compiled.examples}
    for result in failed:
        column = by_line[result.line].column
        expected = ", ".join(a.to_text() for a in result.expected) or "(nothing)"
        got = ", ".join(a.to_text() for a in result.got) or "(nothing)"
        print(
            f'{args.file}:{result.line}:{column}: error: example "{result.name}" expected {expected} '
            f"but the policy decided {got}"
        )
        text = result.text if args.lang == "en" else _zh_text(compiled, result)
        for line in text.splitlines():
            print("    " + line)
    print(f"{len(results)} examples, {len(results) - len(failed)} passed, {len(failed)} failed")
    return EXIT_INVALID if failed else EXIT_OK


def _zh_text(compiled: CompiledPolicy, result: Any) -> str:
    from .examples import example_facts

    example = next(e for e in compiled.examples if e.line == result.line)
    return compiled.decide(example_facts(example), result.event).explain_text("zh")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m rules", description="Check and run after-sales policies."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str, with_case: bool) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("file", help="the policy file")
        p.add_argument("--lang", choices=["en", "zh"], default="en", help="language of messages")
        p.add_argument("--brief", action="store_true", help="print only the first line of each problem")
        if with_case:
            p.add_argument("--case", required=True, help="JSON file with the case facts")
            p.add_argument(
                "--event", default="case_opened", help="the event, e.g. return_received or deadline:NAME"
            )
        return p

    add("check", "Report every error and warning, and run the policy's examples.", False).set_defaults(
        run=cmd_check
    )
    decide = add("decide", "Print the decision for a case as JSON.", True)
    decide.add_argument("--explain", action="store_true", help='add an "explanation" key to the JSON')
    decide.set_defaults(run=cmd_decide)
    add("test", "Run the policy's examples and report each failure.", False).set_defaults(run=cmd_test)
    add("explain", "Explain in words how the policy decides a case.", True).set_defaults(run=cmd_explain)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except _BadInput as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT

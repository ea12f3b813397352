"""`flask --app wsgi pdf evidence|instructions|export`: the documents from the command line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale

from portal.db import get_db
from portal.documents.evidence import load_case, render_evidence_pack
from portal.documents.export import ExportFilter, count_export, write_export
from portal.documents.instructions import render_return_instructions
from portal.documents.render import RenderError
from portal.domain.enums import CaseType

pdf_cli = AppGroup("pdf", help="Return instructions, evidence packs and pack exports as PDF.")
CLI_ACTOR = "cli"


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pdf_cli.command("evidence")
@click.argument("case_number")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lang", default="en", show_default=True, type=click.Choice(["en", "zh"]))
def evidence(case_number: str, out: Path, lang: str) -> None:
    """Write the evidence pack of CASE_NUMBER to OUT and log its SHA-256 in the audit trail."""
    session = get_db().session()
    try:
        case = load_case(session, case_number)
        if case is None:
            raise click.ClickException(f"There is no case {case_number}.")
        with force_locale(lang):
            pack = render_evidence_pack(
                session, current_app.extensions["attachments"], case, actor_label=CLI_ACTOR
            )
        _write(out, pack.pdf)
        session.commit()
    except RenderError as error:
        raise click.ClickException(str(error)) from None
    finally:
        session.close()
    click.echo(f"Wrote {out} ({len(pack.pdf)} bytes, {len(pack.manifest['exhibits'])} exhibits).")
    click.echo(f"SHA-256 {pack.sha256} (recorded in the audit log)")


@pdf_cli.command("instructions")
@click.argument("case_number")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def instructions(case_number: str, out: Path) -> None:
    """Write the buyer's return instructions for the newest return of CASE_NUMBER to OUT."""
    session = get_db().session()
    try:
        case = load_case(session, case_number)
        if case is None:
            raise click.ClickException(f"There is no case {case_number}.")
        if not case.returns:
            raise click.ClickException(
                f"Case {case.number} has no approved return, so it has no instructions."
            )
        data = render_return_instructions(
            session, current_app.extensions["attachments"], case, case.returns[-1]
        )
        _write(out, data)
    except RenderError as error:
        raise click.ClickException(str(error)) from None
    finally:
        session.close()
    click.echo(
        f"Wrote {out} ({len(data)} bytes) in the buyer's language for RMA {case.returns[-1].rma_number}."
    )


@pdf_cli.command("export")
@click.option(
    "--from",
    "date_from",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help="First day (UTC) a case was opened.",
)
@click.option(
    "--to",
    "date_to",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help="Last day (UTC) a case was opened.",
)
@click.option("--market", default="", help="Market code, such as US or DE.")
@click.option("--type", "case_type", default="", type=click.Choice(["", *[t.value for t in CaseType]]))
@click.option("--disputed", is_flag=True, help="Only cases with a dispute.")
@click.option("--lang", default="en", show_default=True, type=click.Choice(["en", "zh"]))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def export(
    date_from: object, date_to: object, market: str, case_type: str, disputed: bool, lang: str, out: Path
) -> None:
    """Write the evidence packs of the matching cases into one ZIP with index.csv and SHA256SUMS."""
    case_filter = ExportFilter(
        date_from=_day(date_from),
        date_to=_day(date_to),
        market=market.upper(),
        type=case_type,
        disputed_only=disputed,
    )
    if problems := case_filter.problems():
        raise click.ClickException(" ".join(problems))
    database = get_db()
    with database.session() as session:
        total = count_export(session, case_filter)
    if total == 0:
        raise click.ClickException("No case matches these filters; nothing was written.")
    with click.progressbar(length=total, label=f"Rendering {total} evidence packs") as bar:
        seen = [0]

        def progress(done: int, _total: int) -> None:
            bar.update(done - seen[0])
            seen[0] = done

        summary = write_export(
            current_app._get_current_object(),  # type: ignore[attr-defined]
            database.session,
            case_filter,
            out.resolve(),
            progress,
            actor_label=CLI_ACTOR,
            lang=lang,
        )
    click.echo(
        f"Wrote {out}: {summary['cases']} cases, {summary['failed']} failed, SHA-256 {summary['sha256']}."
    )


def _day(value: object) -> date | None:
    return value.date() if hasattr(value, "date") else None  # type: ignore[union-attr]

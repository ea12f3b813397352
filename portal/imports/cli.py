"""`flask --app wsgi import orders|returns FILE`: the same import as the browser's, in the terminal."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from portal.db import get_db
from portal.domain.csv_files import ENCODINGS, ImportFileError
from portal.domain.csv_import import claim, english, register_upload, run_import
from portal.domain.lifecycle import Actor
from portal.domain.models import Market

import_cli = AppGroup("import", help="Import orders or returns exported from a seller center (CSV).")


def _run(kind: str, file: Path, market_code: str, encoding: str) -> None:
    session = get_db().session()
    store = current_app.extensions["attachments"]
    try:
        markets = list(session.scalars(select(Market).where(Market.code == market_code.upper())))
        if len(markets) != 1:
            raise click.ClickException(
                f"Market {market_code!r} "
                + ("is ambiguous (several shops)." if markets else "does not exist.")
            )
        try:
            batch = register_upload(
                session,
                store,
                kind=kind,
                filename=file.name,
                data=file.read_bytes(),
                market=markets[0],
                encoding=encoding,
            )
            session.commit()
        except ImportFileError as error:
            session.rollback()
            raise click.ClickException(str(error)) from None
        if batch.status == "done":
            click.echo(f"{file.name} was imported already (batch {batch.id}); nothing changed.")
            return
        if not claim(session, batch):
            raise click.ClickException(f"Batch {batch.id} is being imported right now.")
        with click.progressbar(
            length=batch.total_rows * 2, label=f"Importing {batch.total_rows} rows"
        ) as bar:
            position = 0

            def progress(done: int, _total: int | None) -> None:
                nonlocal position
                bar.update(done - position)
                position = done

            try:
                outcome = run_import(session, store, batch, Actor.system("import (command line)"), progress)
                session.commit()
            except Exception:
                session.rollback()
                batch.status = "failed"
                session.commit()
                raise
        if batch.status == "invalid":
            for problem in batch.errors:
                click.echo(english(problem), err=True)
            raise click.ClickException(f"Nothing was imported: {batch.error_count} problems.")
        click.echo(
            f"Imported: {outcome.created} created, {outcome.unchanged} already present"
            + (f", {outcome.skipped} finished on the marketplace" if kind == "returns" else "")
            + "."
        )
    finally:
        session.close()


def _command(kind: str) -> click.Command:
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option(
        "--market", "market_code", required=True, help="Market code of rows without a market column."
    )
    @click.option("--encoding", type=click.Choice(ENCODINGS), default="auto", show_default=True)
    def command(file: Path, market_code: str, encoding: str) -> None:
        _run(kind, file, market_code, encoding)

    command.__doc__ = f"Import {kind} from FILE: every row is checked, then all are imported or none."
    return import_cli.command(kind)(command)


_command("orders")
_command("returns")

"""`flask --app wsgi audit public-key|sequence|verify|verify-pack`: the signed audit log from the shell."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from portal.audit.keys import public_key, signer
from portal.domain.audit_signing import (
    Checkpoint,
    SigningKeyError,
    load_public_key,
    problem_text,
    public_pem,
)

audit_cli = AppGroup("audit", help="The signed audit log: sequence it, verify it, check evidence packs.")


@audit_cli.command("public-key")
def print_public_key() -> None:
    """Print the public key that checks the audit log's checkpoints (PEM)."""
    click.echo(public_pem(public_key()), nl=False)


@audit_cli.command("sequence")
def sequence_now() -> None:
    """Place every pending entry in the tree and sign a checkpoint (the scheduler does this continuously)."""
    from portal.db import get_db
    from portal.domain.audit_tree import sequence

    result = sequence(get_db().sessionmaker, signer())
    checkpoint = result.checkpoint
    if checkpoint is None:
        click.echo("The audit log is empty; there is nothing to sign.")
        return
    click.echo(
        f"Sequenced {result.sequenced} entries. Checkpoint: tree size {checkpoint.tree_size}, "
        f"root {checkpoint.root_hash.hex()}, signed {checkpoint.timestamp:%Y-%m-%d %H:%M:%S} UTC."
    )


def _outside_checkpoints(paths: tuple[Path, ...]) -> list[Checkpoint]:
    """Checkpoints kept outside the database: evidence packs (PDF) or checkpoint JSON files."""
    from portal.documents.pack_proof import PROOF_NAME, PackError, embedded_file, embedded_files

    found = []
    for path in paths:
        data = path.read_bytes()
        try:
            if data.lstrip()[:1] == b"{":
                document = json.loads(data)
            else:
                document = json.loads(embedded_file(embedded_files(data), PROOF_NAME))
            found.append(Checkpoint.from_json(document.get("checkpoint", document)))
        except (PackError, ValueError, AttributeError) as error:
            raise click.ClickException(f"{path}: no checkpoint can be read from it ({error})") from None
    return found


@audit_cli.command("verify")
@click.option(
    "--checkpoint",
    "kept",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A checkpoint kept outside the portal (an evidence pack, or its checkpoint as JSON): the log "
    "must still hold the tree it signed. Repeatable.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes that re-hash the log (default: one per core for a large log).",
)
def verify(kept: tuple[Path, ...], workers: int | None) -> None:
    """Check the whole log against its signed checkpoints; exit 1 if anything was changed."""
    from portal.db import get_db
    from portal.domain.audit_tree import default_workers, verify_log

    outside = _outside_checkpoints(kept)
    with get_db().session() as session:
        report = verify_log(session, public_key(), outside, workers=workers or default_workers(session))
    waiting = []
    if report.unsequenced:
        waiting.append(f"{report.unsequenced} newer entries are not sequenced yet")
    if report.unsigned:
        waiting.append(f"{report.unsigned} sequenced entries wait for the next checkpoint")
    note = f" ({'; '.join(waiting)})" if waiting else ""
    if report.ok:
        when = f", signed {report.checkpoint_at:%Y-%m-%d %H:%M:%S} UTC" if report.checkpoint_at else ""
        click.echo(
            f"OK: {report.entries} entries match the latest checkpoint (tree size {report.tree_size}"
            f"{when}); {report.checkpoints} checkpoints, each consistent with the one before{note}."
        )
        return
    click.echo(f"FAILED: the audit log does not match its signed checkpoints{note}.")
    for problem in report.problems:
        click.echo(f"  - {problem_text(problem)}")
    raise SystemExit(1)


@audit_cli.command("verify-pack")
@click.argument("pack", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--public-key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM public key (as `openssl pkey -pubout` writes it); default: this portal's key.",
)
@click.option(
    "--exhibit",
    "exhibits",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An original exhibit file; its SHA-256 must be in the pack's manifest. Repeatable.",
)
def verify_pack_command(pack: Path, key_file: Path | None, exhibits: tuple[Path, ...]) -> None:
    """Check an evidence pack without the database: signature, entries, manifest, exhibit hashes."""
    from portal.documents.pack_proof import verify_pack

    if key_file is not None:
        try:
            key = load_public_key(key_file.read_bytes())
        except SigningKeyError as error:
            raise click.ClickException(f"{key_file}: {error}") from None
    else:
        key = public_key()
    report = verify_pack(pack.read_bytes(), key, exhibits)
    click.echo(report.summary)
    if not report.ok:
        for problem in report.problems[1:]:
            click.echo(f"  - {problem_text(problem)}")
        raise SystemExit(1)

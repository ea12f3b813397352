"""`flask --app wsgi api-token create|list|revoke`: API tokens from the command line."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.db import get_db
from portal.domain import api_tokens
from portal.domain.enums import Role

api_token_cli = AppGroup("api-token", help="Tokens for the JSON API (/api/v1).")


@api_token_cli.command("create")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in Role]),
    help="The token may do what a user of this role may.",
)
def create(name: str, role: str) -> None:
    """Create a token called NAME and print it (it is shown only this once)."""
    session = get_db().session()
    try:
        new = api_tokens.create_token(session, name, role)
        session.commit()
    except api_tokens.TokenError as error:
        session.rollback()
        raise click.ClickException(str(error)) from None
    finally:
        session.close()
    click.echo(
        f"Created API token {new.token.id} “{new.token.name}” ({new.token.role.value}). "
        "Keep it now; it is not shown again:",
        err=True,
    )
    click.echo(new.secret)


@api_token_cli.command("list")
def list_() -> None:
    """Every token: id, state, role, name, prefix, last use."""
    session = get_db().session()
    try:
        tokens = api_tokens.list_tokens(session)
    finally:
        session.close()
    if not tokens:
        click.echo("No API tokens.")
    for token in tokens:
        state = "revoked" if token.revoked_at else "active"
        used = token.last_used_at.isoformat(timespec="minutes") if token.last_used_at else "never used"
        click.echo(
            f"{token.id:>4}  {state:<7}  {token.role.value:<11}  {token.prefix}…  {used:<25}  {token.name}"
        )


@api_token_cli.command("revoke")
@click.argument("token_id", type=int)
def revoke(token_id: int) -> None:
    """Revoke token TOKEN_ID (see `list`); programs using it are refused from now on."""
    session = get_db().session()
    try:
        token = api_tokens.revoke_token(session, token_id)
        session.commit()
        click.echo(f"Revoked API token {token.id} “{token.name}”.")
    except api_tokens.TokenError as error:
        session.rollback()
        raise click.ClickException(str(error)) from None
    finally:
        session.close()

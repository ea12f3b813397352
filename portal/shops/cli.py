"""`flask --app wsgi shops rotate-keys`: re-encrypt shop secrets and tokens under the current SECRET_KEY."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from portal.db import get_db
from portal.domain.shops.secrets import SecretUnreadable, Vault, rotate_all

shops_cli = AppGroup("shops", help="Marketplace shops.")


@shops_cli.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt shop secrets and tokens with the current SECRET_KEY.

    Run it after moving the old key into SECRET_KEY_FALLBACKS and setting the new SECRET_KEY on every
    process; the portal keeps working throughout. Afterwards the old key can leave SECRET_KEY_FALLBACKS.
    """
    session = get_db().session()
    try:
        changed = rotate_all(session, Vault.from_config(current_app.config))
        session.commit()
    except SecretUnreadable as error:
        session.rollback()
        raise click.ClickException(
            f"{error}: add the key they were encrypted with to SECRET_KEY_FALLBACKS"
        ) from None
    finally:
        session.close()
    click.echo(f"Re-encrypted {changed} stored values with the current key.")

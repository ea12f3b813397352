"""`flask --app wsgi shops rotate-keys`: re-encrypt shop secrets and tokens, and two-step sign-in secrets,
under the current SECRET_KEY."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from portal.db import get_db
from portal.domain.accounts import second_factor
from portal.domain.shops.secrets import SecretUnreadable, Vault, rotate_all

shops_cli = AppGroup("shops", help="Marketplace shops; rotate-keys re-encrypts every stored secret.")


@shops_cli.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt shop secrets and tokens, and two-step sign-in secrets, with the current SECRET_KEY.

    Two-step sign-in secrets still stored unencrypted (from before they were sealed) are encrypted too.
    Run it after moving the old key into SECRET_KEY_FALLBACKS and setting the new SECRET_KEY on every
    process; the portal keeps working throughout. Afterwards the old key can leave SECRET_KEY_FALLBACKS.
    """
    session = get_db().session()
    try:
        shop_values = rotate_all(session, Vault.from_config(current_app.config))
        totp_values, were_plain = second_factor.reseal_all(
            session, second_factor.vault_from_config(current_app.config)
        )
        session.commit()
    except SecretUnreadable as error:
        session.rollback()
        raise click.ClickException(
            f"{error}: add the key they were encrypted with to SECRET_KEY_FALLBACKS (a two-step sign-in "
            "secret can also be dropped: flask --app wsgi users sign-out EMAIL --reset-second-factor); "
            "nothing was changed"
        ) from None
    finally:
        session.close()
    click.echo(
        f"Re-encrypted {shop_values + totp_values} stored values with the current key: {shop_values} shop "
        f"secrets and tokens, {totp_values} two-step sign-in secrets ({were_plain} of them unencrypted "
        "until now)."
    )

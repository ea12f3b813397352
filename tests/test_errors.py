"""Errors show in the portal's layout, in the user's language, and never leak a traceback."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from portal.access import allow
from portal.domain.enums import Role


def test_404_page(client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404 and "Not found" in response.get_data(as_text=True)


def test_403_page_explains(login: Callable[[Role], FlaskClient]) -> None:
    response = login(Role.CS_AGENT).get("/admin/users")
    html = response.get_data(as_text=True)
    assert (
        response.status_code == 403 and "Your role does not give access" in html and 'class="topbar"' in html
    )


def test_500_page_hides_the_error(app: Flask, login: Callable[[Role], FlaskClient]) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/boom")
    @allow(Role.CS_AGENT)
    def boom() -> str:
        raise RuntimeError("secret internals")

    response = login(Role.CS_AGENT).get("/boom")
    html = response.get_data(as_text=True)
    assert response.status_code == 500 and "Something went wrong" in html and "secret internals" not in html


def test_htmx_errors_are_fragments(login: Callable[[Role], FlaskClient]) -> None:
    response = login(Role.CS_AGENT).get("/admin/users", headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 403 and body.lstrip().startswith('<section class="card narrow error-page"')

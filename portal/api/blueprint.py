"""The JSON API's blueprint; importing portal.api.views registers its routes, errors and authentication."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

"""The cases blueprint, shared by the queue, case page and action modules."""

from flask import Blueprint

bp = Blueprint("cases", __name__, url_prefix="/cases")

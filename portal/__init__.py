"""Aftersales Desk: the Flask application factory."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from htmx_flask import Htmx

from portal import access, errors, i18n, observability, security, visible_text
from portal.config import load_config
from portal.db import Database
from portal.domain import storage
from portal.domain.attachments import AttachmentStore

login_manager = LoginManager()
csrf = CSRFProtect()
htmx = Htmx()


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(load_config(Path(app.instance_path)))
    if config:
        app.config.from_mapping(config)

    Database(app.config["DATABASE_URL"]).init_app(app)
    attachments, exports, cache = storage.from_config(app.config, Path(app.instance_path))
    app.extensions["attachments"] = AttachmentStore(
        attachments, cache / "attachments", app.config["STORAGE_CACHE_MAX_MB"] * 1024 * 1024
    )
    app.extensions["exports"] = exports
    observability.init_app(app)  # first, so every response (a 429, a CSRF refusal) carries its request id
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    htmx.init_app(app)
    i18n.init_app(app)
    visible_text.init_app(app)
    access.init_app(app)
    from portal.auth import signin, throttling

    signin.init_app(app, login_manager)  # sign-in state is a server-side session (user_sessions)
    throttling.init_app(app)
    security.init_app(app)
    errors.init_app(app)

    from portal.admin.views import bp as admin_bp
    from portal.audit.views import bp as audit_bp
    from portal.auth.views import bp as auth_bp
    from portal.cases.views import bp as cases_bp
    from portal.documents.views import bp as documents_bp
    from portal.main.views import bp as main_bp
    from portal.policies.views import bp as policies_bp
    from portal.scheduling.views import bp as scheduling_bp

    for blueprint in (
        main_bp, auth_bp, cases_bp, policies_bp, audit_bp, admin_bp, documents_bp, scheduling_bp
    ):
        app.register_blueprint(blueprint)
    from portal.intake.views import bp as intake_bp

    app.register_blueprint(intake_bp)
    from portal.api.views import bp as api_bp

    csrf.exempt(api_bp)  # bearer tokens only, never the session cookie (see portal/api/auth.py)
    app.register_blueprint(api_bp)

    from portal.carriers.views import bp as carriers_bp
    from portal.imports.views import bp as imports_bp

    csrf.exempt(carriers_bp)  # signed by the tracking provider, never a browser session
    app.register_blueprint(carriers_bp)
    app.register_blueprint(imports_bp)
    from portal.analytics.views import bp as analytics_bp

    app.register_blueprint(analytics_bp)  # importing it also keeps the analytics rollups marked on writes
    from portal.messaging.views import bp as messaging_bp

    app.register_blueprint(messaging_bp)
    from portal.shops import views as shops

    shops.init_app(app)  # the Shops pages, and the warning about troubled shops on every admin page

    from portal import jobs
    from portal.documents.views import EXPORT_KIND, export_work
    from portal.imports.views import JOB_KIND as IMPORT_KIND
    from portal.imports.views import import_work
    from portal.policies.editing import SIMULATION_JOB, simulation_work

    jobs.init_app(app, {IMPORT_KIND: import_work, EXPORT_KIND: export_work,
                        SIMULATION_JOB: simulation_work})

    import portal.documents.lifecycle_hooks  # noqa: F401  (approved returns carry their instructions PDF)
    import portal.domain.marketplace.commands  # noqa: F401  (marketplace returns are told of decisions)
    from portal.cli import register_cli

    register_cli(app)
    return app

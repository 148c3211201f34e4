"""The web service: ``create_app()`` builds the Flask app and registers every blueprint.

Run with a production WSGI server, e.g. ``gunicorn "server:create_app()"`` (what ``./run.sh
demo`` does); tests call ``create_app(settings)`` with their own database and a random secret
key (there is no default key: see :func:`planning_gis.settings.check_secret_key`).
"""

from __future__ import annotations

from flask import Flask

from planning_gis import __version__
from planning_gis.settings import Settings, check_secret_key, get_settings
from planning_gis.web import (
    accounts,
    api,
    caching,
    citizen,
    compare,
    db,
    documents,
    exchange,
    exchange_workspace,
    limits,
    lookup,
    ogc,
    openapi,
    ops,
    pages,
    raster_tiles,
    security_headers,
    vector_tiles,
    workspace,
)
from planning_gis.web.errors import register_error_handlers
from planning_gis.web.json_body import StrictJSONProvider

#: One blueprint per concern, registered in this order.
BLUEPRINTS = (
    api.bp,
    pages.bp,
    citizen.bp,
    documents.bp,
    raster_tiles.bp,
    vector_tiles.bp,
    ogc.bp,
    lookup.bp,
    openapi.bp,
    exchange.bp,
    compare.bp,
)


def create_app(settings: Settings | None = None) -> Flask:
    """The app for ``settings`` (the environment's by default).

    Raises ConfigurationError when there is no strong secret key: sessions signed with a known
    or guessable key could be forged, so the service refuses to start rather than serve so.
    """
    settings = settings or get_settings()
    check_secret_key(settings.secret_key)
    app = Flask(
        __name__,
        template_folder="planning_gis/templates",
        static_folder="planning_gis/static",
    )
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        VERSION=__version__,
        JSON_AS_ASCII=False,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
    )
    app.json = StrictJSONProvider(app)  # every get_json() refuses NaN, deep nesting, NUL
    app.json.ensure_ascii = False
    db.init_app(app)
    register_error_handlers(app)
    limits.init_app(app)  # URL length, NUL in the URL, body size: before any view
    caching.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    accounts.init_app(app)
    workspace.init_app(app)
    app.register_blueprint(exchange_workspace.bp)
    vector_tiles.init_app(app)
    lookup.init_app(app)
    # Last: it wraps the cached-tile fast path too, so every answer carries the headers.
    security_headers.init_app(app)
    ops.init_app(app)  # liveness, readiness, metrics; times every answer, the fast path's too
    return app

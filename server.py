"""The web service: ``create_app()`` builds the Flask app and registers every blueprint.

Run with a production WSGI server, e.g. ``gunicorn "server:create_app()"`` (what ``./run.sh
demo`` does); tests call ``create_app(settings)`` with their own database.
"""

from __future__ import annotations

from flask import Flask

from planning_gis import __version__, db
from planning_gis.http import register_error_handlers
from planning_gis.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
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
    app.json.ensure_ascii = False
    db.init_app(app)
    register_error_handlers(app)

    from planning_gis.web import caching

    caching.init_app(app)

    from planning_gis.web import api, citizen, pages

    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(citizen.bp)

    from planning_gis.documents import views as documents_views

    app.register_blueprint(documents_views.bp)

    from tiles import views as raster_views

    app.register_blueprint(raster_views.bp)

    from layers import vector_tiles

    app.register_blueprint(vector_tiles.bp)

    from layers import ogc

    app.register_blueprint(ogc.bp)

    from layers import lookup_api

    app.register_blueprint(lookup_api.bp)

    from planning_gis.web import openapi

    app.register_blueprint(openapi.bp)
    return app

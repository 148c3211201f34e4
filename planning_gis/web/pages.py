"""HTML pages (Vietnamese first)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    settings = current_app.config["SETTINGS"]
    return render_template(
        "index.html",
        base_map_url=settings.base_map_url,
        base_map_attribution=settings.base_map_attribution,
        static_tiles_url=settings.static_tiles_url.rstrip("/"),
    )

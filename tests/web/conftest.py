"""Fixtures of the web-layer tests: the synthetic serving city and a Flask app on it."""

from __future__ import annotations

import pytest

from tests.serving_data import City, load_sample_city


@pytest.fixture(scope="session")
def city(demo) -> City:
    """Loaded after the demo city (the demo loader skips itself when fictional plans exist)."""
    return load_sample_city(demo)


@pytest.fixture
def city_client(demo, city):
    from server import create_app

    app = create_app(demo)
    app.config["TESTING"] = True
    return app.test_client()

"""Fixtures of the layer tests (vector tiles, OGC API, look-up): the synthetic serving city and a Flask app on it."""

from __future__ import annotations

import pytest
from serving_data import City, load_sample_city


@pytest.fixture(scope="session")
def city(settings) -> City:
    return load_sample_city(settings)


@pytest.fixture
def city_client(settings, city):
    from server import create_app

    app = create_app(settings)
    app.config["TESTING"] = True
    return app.test_client()

"""The exchange's fixtures (SMTP server, the unit's governed point, a draft plan) for the web
tests of its blueprints."""

from tests.exchange.conftest import cau_giay, draft_plan, mail_settings, smtp  # noqa: F401

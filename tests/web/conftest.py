"""The exchange's fixtures (SMTP server, the unit's governed point, a draft plan) for the web
tests of its blueprints."""

from tests.exchange.conftest import (  # noqa: F401
    cau_giay,
    draft_plan,
    mail_settings,
    new_draft_plan,
    smtp,
)

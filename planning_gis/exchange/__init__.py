"""Two-way exchange with citizens: questions on a place or plan, consultation on draft plans,
the planning-information request procedure, each unit's public record, and the e-mail outbox.

Services only: plain arguments in (an ORM session or a connection, ints, text, settings), plain
values or domain errors out; Flask is in ``planning_gis.web.exchange`` and
``planning_gis.web.exchange_workspace``. Personal data (names, e-mails, phones) is read only by
the unit's staff, the outbox and the retention command; everything public is built from
``public_*`` columns written with personal data removed (:func:`text.redact`).
"""

"""``import_maps.py exchange``: the exchange with citizens' maintenance commands."""

from __future__ import annotations

import argparse

from planning_gis.errors import InvalidInput
from planning_gis.settings import get_settings


def _erase(args: argparse.Namespace) -> int:
    from planning_gis import db
    from planning_gis.exchange.retention import erase_contacts

    settings = get_settings()
    months = args.months if args.months is not None else settings.contact_retention_months
    if months < 1:
        raise InvalidInput("--months must be at least 1")
    with db.session_scope(settings) as session:
        erased = erase_contacts(session, months)
    print(f"contact data erased (older than {months} months): {erased.questions} question(s), "
          f"{erased.comments} comment(s), {erased.requests} request(s), {erased.emails} e-mail(s)")
    return 0


def _send(args: argparse.Namespace) -> int:
    from planning_gis.exchange.outbox import send_due

    result = send_due(get_settings())
    print(f"{result.sent} e-mail(s) sent, {result.failed} postponed")
    return 0 if result.failed == 0 else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("exchange", help="questions, consultations, requests: maintenance")
    esub = p.add_subparsers(dest="exchange_command", required=True, metavar="ACTION")
    erase = esub.add_parser("erase-contacts",
                            help="erase names, e-mails and phones older than the retention")
    erase.add_argument("--months", type=int, default=None,
                       help="months to keep (default PLANNING_CONTACT_RETENTION_MONTHS)")
    erase.set_defaults(func=_erase)
    send = esub.add_parser("send-mail", help="send the due e-mails of the outbox once")
    send.set_defaults(func=_send)

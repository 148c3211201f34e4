#!/usr/bin/env python3
"""Command-line tool of the Hanoi planning-map service.

Each concern registers its own subcommands (``planning_gis.commands.*``); this file only
dispatches and turns domain errors into one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from planning_gis.errors import PlanningError

#: Modules that each define ``register(subparsers)``; the subcommand sets ``func``.
COMMAND_MODULES = (
    "planning_gis.commands.database",
    "planning_gis.commands.demo",
    "planning_gis.commands.zones",
    "planning_gis.commands.basemap",
    "planning_gis.georef.cli",
    "planning_gis.documents.cli",
    "planning_gis.commands.users",
    "planning_gis.commands.jobs",
    "planning_gis.commands.exchange",
    "planning_gis.commands.backup",
    "planning_gis.commands.publish",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="import_maps.py",
        description="Import, georeference and manage Hanoi planning maps.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except PlanningError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())

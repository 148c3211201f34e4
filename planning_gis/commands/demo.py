"""``import_maps.py demo``: generate and load the fictional demo city."""

from __future__ import annotations

import argparse
import time

from layers import coverage
from planning_gis import db
from planning_gis.demo import load_demo
from planning_gis.documents import text_index
from planning_gis.settings import get_settings


def _load(args: argparse.Namespace) -> int:
    summary = load_demo(force=args.force, size=args.size)
    print(summary.line())
    # The tiles' generalised zone layers, built now rather than by the first idle job worker.
    settings = get_settings()
    done = coverage.refresh_if_stale(db.get_engine(settings), settle_seconds=0)
    if done is not None:
        print(f"zone coverage for the tiles: {done.features} zones in {done.seconds:.1f} s")
    # The document index too: a request builds only a small library's (text_index.ensure).
    started = time.perf_counter()
    with db.get_engine(settings).connect() as conn:
        text_index.ensure(conn, settings.search_index_path)
    print(f"document index up to date in {time.perf_counter() - started:.1f} s")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="the generated demo city")
    dsub = demo.add_subparsers(dest="demo_command", required=True, metavar="ACTION")
    load = dsub.add_parser("load", help="generate and load the demo (does nothing if present)")
    load.add_argument("--force", action="store_true", help="remove the demo and load it again")
    load.add_argument("--size", choices=("full", "tiny", "city"), default=None,
                      help="full (default), tiny (for tests) or city (Hanoi-size: ~500,000 zones, "
                           "100,000 documents; loaded by batches, a second run resumes)")
    load.set_defaults(func=_load)

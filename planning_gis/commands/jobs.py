"""``import_maps.py jobs``: the worker that publishes sheets outside the web requests."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from planning_gis.errors import InvalidInput
from planning_gis.settings import get_settings


def _stop(signum, _frame) -> None:  # noqa: ANN001
    # Raised where the worker is: a running job is rolled back (its files removed) and queued
    # again for the next worker.
    raise SystemExit(128 + signum)


def _run(args: argparse.Namespace) -> int:
    from planning_gis.workspace import jobs

    if not args.poll > 0:
        raise InvalidInput("--poll must be a positive number of seconds")
    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s jobs %(levelname)s %(message)s")
    if args.once:
        n = jobs.run_pending(settings)
        print(f"{n} job(s) done")
        return 0
    signal.signal(signal.SIGTERM, _stop)
    print(f"job worker started, polling every {args.poll:g} s", file=sys.stderr, flush=True)
    jobs.run_worker(settings, args.poll)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("jobs", help="background jobs (publishing sheets)")
    jsub = p.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    run = jsub.add_parser("run", help="run the job worker: poll the jobs table and do each job")
    run.add_argument("--once", action="store_true",
                     help="do the queued jobs, then exit (instead of polling for ever)")
    run.add_argument("--poll", type=float, default=1.0, help="seconds between polls (default 1)")
    run.set_defaults(func=_run)

"""``import_maps.py documents DIR --metadata FILE.csv``: bulk-import the document library."""

from __future__ import annotations

import argparse
import sys

from planning_gis.documents.importer import import_documents


def _run(args: argparse.Namespace) -> int:
    report = import_documents(
        args.directory, args.metadata, report_path=args.report,
        progress=not args.quiet and sys.stderr.isatty() or args.progress,
        ocr=not args.no_ocr, jobs=args.jobs,
    )
    print(report.summary())
    failed = report.failed
    for r in failed[:20]:
        print(f"  row {r.row}: {r.code}: {r.message}")
    if len(failed) > 20:
        print(f"  … and {len(failed) - 20} more failed rows"
              + (f" (see {args.report})" if args.report else " (use --report FILE)"))
    if args.report:
        print(f"report written to {args.report}")
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "documents",
        help="import PDFs and their metadata (CSV) into the document library",
        description="Import every row of a metadata CSV (columns file, doc_type, title; "
                    "optional number, issued_on, issuer, plan_ids, is_fictional). Resumable: "
                    "files already in the library are skipped. Exit status 1 if any row failed.",
    )
    p.add_argument("directory", help="folder holding the PDF files named in the CSV")
    p.add_argument("--metadata", required=True, metavar="FILE.csv", help="metadata CSV (UTF-8)")
    p.add_argument("--report", metavar="FILE", help="write every row's result (.csv or .json)")
    p.add_argument("--jobs", type=int, default=None, help="worker processes reading text/OCR")
    p.add_argument("--no-ocr", action="store_true", help="do not OCR pages without text")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--progress", action="store_true", help="progress bar even when not a tty")
    p.set_defaults(func=_run)

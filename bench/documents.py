#!/usr/bin/env python3
"""Benchmark of the document library: bulk import throughput and search latency.

Makes a scratch database from the migrations, loads the demo city, generates N Vietnamese PDFs
(reportlab + DejaVu; most with a text layer, a sample with one image-only page each so that OCR
is measured on real pixels), imports them with the bulk importer, then times 200 typical
searches with and without diacritics through ``planning_gis.documents.search.search`` (the code
behind ``/api/search``). Prints the figures; the bar is search p95 < 100 ms.

    .venv/bin/python bench/documents.py [--documents 10000]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from bench.common import latency, percentile, scratch_database  # noqa: E402
from planning_gis import db  # noqa: E402
from planning_gis.documents.importer import import_documents  # noqa: E402
from planning_gis.documents.samples import write_pdf  # noqa: E402
from planning_gis.documents.search import fold, search  # noqa: E402

PLACES = [
    "Ba Đình", "Hoàn Kiếm", "Tây Hồ", "Long Biên", "Cầu Giấy", "Đống Đa", "Hai Bà Trưng",
    "Hoàng Mai", "Thanh Xuân", "Hà Đông", "Bắc Từ Liêm", "Nam Từ Liêm", "Sơn Tây", "Ba Vì",
    "Phúc Thọ", "Đan Phượng", "Hoài Đức", "Quốc Oai", "Thạch Thất", "Chương Mỹ", "Thanh Oai",
    "Thường Tín", "Phú Xuyên", "Ứng Hòa", "Mỹ Đức", "Sóc Sơn", "Đông Anh", "Gia Lâm", "Mê Linh",
    "Thanh Trì", "Nghĩa Đô", "Láng Hạ", "Trung Hòa", "Yên Hòa", "Xuân Đỉnh", "Phú Thượng",
    "Kim Liên", "Văn Miếu", "Giảng Võ", "Ngọc Khánh", "Định Công", "Lĩnh Nam", "Vĩnh Tuy",
]
SUBJECTS = [
    "Quy hoạch phân khu đô thị", "Quy hoạch chi tiết khu đô thị mới", "Quy hoạch chi tiết khu nhà ở",
    "Quy hoạch chi tiết tuyến đường", "Quy hoạch chi tiết cụm công nghiệp",
    "Quy hoạch chi tiết công viên cây xanh", "Quy hoạch chi tiết khu tái định cư",
    "Quy hoạch chi tiết trường học", "Điều chỉnh cục bộ quy hoạch chi tiết",
]
TYPES = [("quyet_dinh", "Quyết định phê duyệt"), ("thuyet_minh", "Thuyết minh tổng hợp"),
         ("quy_dinh", "Quy định quản lý theo đồ án"), ("ban_ve", "Bản vẽ"),
         ("dieu_chinh", "Quyết định điều chỉnh")]
ISSUERS = ["UBND Thành phố Hà Nội", "Sở Quy hoạch – Kiến trúc", "Viện Quy hoạch xây dựng Hà Nội",
           "UBND quận Cầu Giấy", "UBND huyện Đông Anh", "UBND quận Hà Đông"]
TOPICS = [
    "mật độ xây dựng tối đa {p}%, tầng cao từ {a} đến {b} tầng, hệ số sử dụng đất {f} lần",
    "chỉ giới đường đỏ tuyến đường rộng {w} m, chỉ giới xây dựng lùi {a} m",
    "đất cây xanh, mặt nước và hồ điều hòa diện tích {h} ha",
    "trường học, nhà trẻ và trạm y tế phục vụ khoảng {d} người",
    "bãi đỗ xe ngầm và hạ tầng kỹ thuật: cấp nước, thoát nước, cấp điện",
    "bảo tồn di tích, đình chùa và không gian làng xóm hiện hữu",
    "đất ở mới, nhà ở xã hội và khu tái định cư phục vụ giải phóng mặt bằng",
]


def _doc(i: int, rng: random.Random) -> dict:
    place = rng.choice(PLACES)
    subject = rng.choice(SUBJECTS)
    code, label = rng.choice(TYPES)
    year = rng.randint(1999, 2025)
    issued = dt.date(year, rng.randint(1, 12), rng.randint(1, 28))
    number = f"{rng.randint(1, 9999)}/QĐ-UBND" if code in ("quyet_dinh", "dieu_chinh") else None
    title = f"{label} {subject} {place}, tỷ lệ 1/{rng.choice([500, 2000, 5000])}"
    paras = [f"Căn cứ Luật Quy hoạch đô thị ngày 17 tháng 6 năm 2009; hồ sơ số {i}."]
    for k in range(rng.randint(6, 30)):
        topic = rng.choice(TOPICS).format(p=rng.randint(20, 70), a=rng.randint(1, 9),
                                          b=rng.randint(10, 40), f=round(rng.uniform(1, 9), 1),
                                          w=rng.choice([13.5, 17.5, 30, 40, 50]),
                                          h=round(rng.uniform(0.5, 30), 1),
                                          d=rng.randint(2000, 40000))
        paras.append(f"Điều {k + 1}. Tại khu vực {rng.choice(PLACES)}: {topic}.")
    return {"i": i, "doc_type": code, "number": number, "issued_on": issued.isoformat(),
            "issuer": rng.choice(ISSUERS), "title": title, "paragraphs": paras, "place": place}


def _write(args: tuple[dict, str, bool]) -> str:
    d, folder, scanned = args
    name = f"{d['i'] // 1000:02d}/vb-{d['i']:05d}.pdf"
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    scan = ()
    if scanned:
        scan = ((f"ỦY BAN NHÂN DÂN {d['issuer'].upper()}", d["title"][:70],
                 *[p[:80] for p in d["paragraphs"][1:12]]),)
    write_pdf(path, title=d["title"], number=d["number"], issuer=d["issuer"],
              date_text=f"Hà Nội, ngày {d['issued_on']}", paragraphs=d["paragraphs"],
              scanned_pages=scan)
    return name


def generate(folder: Path, docs: list[dict], scanned: bool, jobs: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(jobs) as pool:
        names = list(pool.map(_write, [(d, str(folder), scanned) for d in docs], chunksize=32))
    meta = folder / "metadata.csv"
    with meta.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "doc_type", "number", "issued_on", "issuer", "title", "plan_ids",
                    "is_fictional"])
        for d, name in zip(docs, names, strict=True):
            w.writerow([name, d["doc_type"], d["number"] or "", d["issued_on"], d["issuer"],
                        d["title"], d.get("plan_ids", ""), "1"])
    return meta


def queries(conn, rng: random.Random, n: int) -> list[str]:
    """Typical citizen and clerk queries, with diacritics (half are folded copies later)."""
    plans = conn.execute(text("SELECT name, decision_number FROM plans")).all()
    numbers = [r[0] for r in conn.execute(text(
        "SELECT number FROM documents WHERE number IS NOT NULL ORDER BY random() LIMIT 40"))]
    zones = [r[0] for r in conn.execute(text(
        "SELECT label FROM land_use_zones ORDER BY random() LIMIT 20"))]
    pool: list[str] = []
    pool += [f"quy hoạch {p}" for p in PLACES]
    pool += [p for p in PLACES]
    pool += [f"{s} {rng.choice(PLACES)}" for s in SUBJECTS]
    pool += ["mật độ xây dựng", "chỉ giới đường đỏ", "hồ điều hòa", "nhà ở xã hội",
             "tái định cư", "cây xanh mặt nước", "bãi đỗ xe ngầm", "trường học nhà trẻ",
             "quyết định phê duyệt quy hoạch phân khu", "điều chỉnh cục bộ"]
    pool += [" ".join(name.split()[:6]) for name, _ in plans]
    pool += [num for _, num in plans if num] + numbers + zones
    return [rng.choice(pool) for _ in range(n)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--documents", type=int, default=10_000)
    ap.add_argument("--ocr-sample", type=int, default=40,
                    help="documents with one image-only page each (OCR is timed on these)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--keep", action="store_true", help="keep the database and files")
    args = ap.parse_args()
    rng = random.Random(8)

    with scratch_database("docs", args.keep) as (settings, work):
        from planning_gis.demo import load_demo

        t = time.perf_counter()
        summary = load_demo(settings, size="full")
        print(f"demo city: {summary.line()} ({time.perf_counter() - t:.1f} s)")
        with db.get_engine(settings).connect() as c:
            plan_ids = [r[0] for r in c.execute(text("SELECT id FROM plans"))]

        n_text = args.documents - args.ocr_sample
        docs = [_doc(i, rng) for i in range(args.documents)]
        for d in docs:
            if rng.random() < 0.3:
                d["plan_ids"] = str(rng.choice(plan_ids))
        t = time.perf_counter()
        text_dir, ocr_dir = work / "text", work / "ocr"
        meta_text = generate(text_dir, docs[:n_text], False, args.jobs)
        meta_ocr = generate(ocr_dir, docs[n_text:], True, args.jobs)
        gen_s = time.perf_counter() - t
        size_mb = sum(p.stat().st_size for p in work.rglob("*.pdf")) / 1e6
        print(f"generated {args.documents} PDFs ({n_text} with a text layer only, "
              f"{args.ocr_sample} with one image-only page) in {gen_s:.1f} s, {size_mb:.0f} MB")

        report = import_documents(text_dir, meta_text, settings=settings, progress=True,
                                  jobs=args.jobs)
        print(f"import, text PDFs: {report.summary()}")
        report_ocr = import_documents(ocr_dir, meta_ocr, settings=settings, progress=True,
                                      jobs=args.jobs)
        ocr_pages = report_ocr.ocr_pages
        print(f"import, PDFs with a scanned page: {report_ocr.summary()}; {ocr_pages} pages "
              f"OCRed: {ocr_pages / report_ocr.seconds:.2f} OCR pages/s "
              f"({args.jobs} worker processes, 300 dpi, tesseract -l vie)")
        total_s = report.seconds + report_ocr.seconds
        imported = report.count("imported") + report_ocr.count("imported")
        print(f"import overall: {imported} documents in {total_s:.1f} s = "
              f"{imported / total_s:.1f} documents/s")
        failed = report.failed + report_ocr.failed
        if failed:
            print(f"FAILED rows: {len(failed)}, first: {failed[0].message}")

        engine = db.get_engine(settings)
        with engine.connect() as c:
            c.execute(text("ANALYZE documents, document_pages, plans, land_use_zones, admin_units"))
            c.commit()
            counts = c.execute(text(
                "SELECT (SELECT count(*) FROM documents), (SELECT count(*) FROM document_pages),"
                " (SELECT count(*) FROM plans), (SELECT count(*) FROM land_use_zones),"
                " (SELECT count(*) FROM admin_units)")).one()
            print(f"database: {counts[0]} documents, {counts[1]} pages, {counts[2]} plans, "
                  f"{counts[3]} zones, {counts[4]} admin units")
            accented = queries(c, rng, args.queries // 2)
            plain = [" ".join(fold(q).split()) for q in accented]
            for q in accented[:20]:  # warm the caches once
                search(c, q)
            results: dict[str, list[float]] = {}
            empty = 0
            for label, qs in (("with diacritics", accented), ("without diacritics", plain)):
                times = []
                for q in qs:
                    t = time.perf_counter()
                    r = search(c, q)
                    times.append((time.perf_counter() - t) * 1000)
                    empty += not r["results"]
                results[label] = times
            every = [t for ts in results.values() for t in ts]
        print(f"search latency, {len(every)} queries (search() behind /api/search: SQL, "
              f"details, highlighted snippets; 20 results):")
        for label, ts in results.items():
            print(f"  {label:<19} n={len(ts):3d}  {latency(ts)}")
        p95 = percentile(every, 95)
        print(f"  all                 n={len(every):3d}  p50 {statistics.median(every):6.1f} ms  "
              f"p95 {p95:6.1f} ms  -> bar p95 < 100 ms: {'PASS' if p95 < 100 else 'FAIL'}")
        print(f"  queries with no result: {empty}")
        return 0 if p95 < 100 else 1


if __name__ == "__main__":
    sys.exit(main())

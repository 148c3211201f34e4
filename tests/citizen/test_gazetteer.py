"""The search box finds streets, house numbers and wards (old names too) before documents."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.db


def _find(client, q):
    r = client.get("/api/citizen/find", query_string={"q": q})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["results"]


@pytest.mark.parametrize("q", ["Dịch Vọng", "dich vong", "Mai Dịch", "Trung Hòa", "Yên Hòa"])
def test_old_ward_finds_the_new_ward_and_says_so(client, q):
    results = _find(client, q)
    top = results[0]
    assert top["kind"] == "place" and top["historic"] is True
    assert "tên cũ, đến 30/06/2025; nay thuộc Phường" in top["subtitle"]
    assert top["now_in"] and top["now_in"][0]["title"].startswith("Phường ")
    assert top["bbox"] and len(top["bbox"]) == 4


@pytest.mark.parametrize("q", ["Xuân Thủy", "xuan thuy", "Trần Duy Hưng", "tran duy hung"])
def test_streets_are_found(client, q):
    top = _find(client, q)[0]
    assert top["kind"] == "street" and "minh họa" in top["title"]
    assert "<mark>" in top["title_html"]


def test_a_house_number_on_a_street(client):
    top = _find(client, "12 Xuân Thủy")[0]
    assert top["kind"] == "address" and top["title"].startswith("12 ")
    assert 105 < top["point"]["lon"] < 106 and 20 < top["point"]["lat"] < 22


def test_cau_giay_units_come_first(client):
    results = _find(client, "cau giay")
    kinds = [r["kind"] for r in results[:4]]
    assert kinds.count("place") >= 2, results[:4]
    titles = [r["title"] for r in results[:4]]
    assert any(t.startswith("Quận Cầu Giấy") for t in titles)
    assert any(t.startswith("Phường Cầu Giấy") for t in titles)


def test_a_district_that_became_several_wards_names_them_all(client):
    district = next(r for r in _find(client, "Quận Cầu Giấy") if r["title"].startswith("Quận"))
    names = [u["title"] for u in district["now_in"]]
    assert any("Cầu Giấy" in n for n in names) and any("Nghĩa Đô" in n for n in names)


@pytest.mark.parametrize("q", ["Cầu Giấy", "Xuân Thủy", "1259/QĐ-TTg"])
def test_every_example_of_the_placeholder_finds_something(client, q):
    """The search box's placeholder lists these; each must find something in the demo."""
    assert _find(client, q)


@pytest.mark.parametrize("sql,index", [("STREETS_SQL", "ix_streets_name_trgm"),
                                       ("ADDRESSES_SQL", "ix_addresses_street_trgm"),
                                       ("PLACES_SQL", "ix_places_name_trgm"),
                                       ("UNITS_SQL", "ix_admin_units_name_trgm")])
def test_gazetteer_sql_uses_its_trigram_index(conn, sql, index):
    import datetime as dt

    from sqlalchemy import text

    import planning_gis.citizen.gazetteer as gz

    conn.execute(text("SET LOCAL enable_seqscan = off"))
    params = {"norm": "xuan thuy", "fuzzy": 0.7, "k": 10, "housenumber": "12",
              "today": dt.date.today()}
    plan = "\n".join(r[0] for r in conn.execute(text("EXPLAIN " + getattr(gz, sql).text), params))
    assert index in plan, plan

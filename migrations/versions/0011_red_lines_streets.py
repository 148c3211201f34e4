"""Road reserves of red lines; the base map's streets, house numbers and places.

A citizen asks "is my plot cut by the red line, and by how much". The red lines (chỉ giới đường
đỏ) are the two sides of a planned road; the land between them is the road reserve. The
reserve is stored beside the lines (``red_lines.reserve``, a polygon with its own GiST index),
built by a trigger from the two sides, so the point and plot answers are one indexed
``ST_Intersects`` / ``<->`` away. A road plan also gives the road's cross-section (mặt cắt, e.g.
"1-1") and, where it has one, the building line's setback (khoảng lùi, chỉ giới xây dựng).

The base map (streets with names, house numbers, named places) comes from OpenStreetMap through
``import_maps.py basemap FILE``, or from the generated demo (fictional names). It feeds the
streets layer of the map and the gazetteer of the search box.

Revision ID: 0011
Revises: 0009
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None

#: The base map's tables and the edition their writes bump (migration 0006's triggers).
BASEMAP_TABLES = ("streets", "addresses", "places")


def upgrade() -> None:
    op.execute("""
        ALTER TABLE red_lines
          ADD COLUMN cross_section text,
          ADD COLUMN setback_m double precision,
          ADD COLUMN reserve geometry(MultiPolygon, 5897),
          ADD CONSTRAINT ck_red_lines_setback_non_negative CHECK (setback_m IS NULL OR setback_m >= 0)
    """)
    # The reserve between the two sides of a road: the first side, the second walked back, closed.
    # One line with a width is the road's axis (a plan that gives only the axis and the width).
    op.execute("""
        CREATE FUNCTION f_road_reserve(lines geometry, width double precision)
        RETURNS geometry LANGUAGE plpgsql IMMUTABLE AS $$
        DECLARE
          a geometry; b geometry; area geometry;
        BEGIN
          lines := ST_LineMerge(lines);
          IF ST_NumGeometries(lines) = 2 THEN
            a := ST_GeometryN(lines, 1);
            b := ST_GeometryN(lines, 2);
            IF ST_Distance(ST_EndPoint(a), ST_EndPoint(b))
               < ST_Distance(ST_EndPoint(a), ST_StartPoint(b)) THEN
              b := ST_Reverse(b);
            END IF;
            area := ST_MakeValid(ST_MakePolygon(ST_MakeLine(ARRAY[a, b, ST_StartPoint(a)])));
          ELSIF ST_NumGeometries(lines) = 1 AND width IS NOT NULL THEN
            area := ST_Buffer(lines, width / 2, 'endcap=flat join=round');
          ELSE
            RETURN NULL;
          END IF;
          area := ST_CollectionExtract(area, 3);
          IF ST_IsEmpty(area) THEN
            RETURN NULL;
          END IF;
          RETURN ST_Multi(area);
        END $$""")
    op.execute("""
        CREATE FUNCTION red_lines_reserve() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'INSERT' AND NEW.reserve IS NULL
             OR TG_OP = 'UPDATE' AND (NEW.geom IS DISTINCT FROM OLD.geom
                                      OR NEW.width_m IS DISTINCT FROM OLD.width_m)
                AND NEW.reserve IS NOT DISTINCT FROM OLD.reserve THEN
            NEW.reserve := f_road_reserve(NEW.geom, NEW.width_m);
          END IF;
          RETURN NEW;
        END $$""")
    op.execute("CREATE TRIGGER red_lines_reserve BEFORE INSERT OR UPDATE ON red_lines "
               "FOR EACH ROW EXECUTE FUNCTION red_lines_reserve()")
    op.execute("UPDATE red_lines SET reserve = f_road_reserve(geom, width_m)")
    op.execute("CREATE INDEX idx_red_lines_reserve ON red_lines USING gist (reserve)")
    # The red-line answer reads the road plan and the reserve: writes change its answers.
    op.execute("CREATE TRIGGER red_lines_lookup_edition AFTER INSERT OR UPDATE OR DELETE OR "
               "TRUNCATE ON red_lines FOR EACH STATEMENT EXECUTE FUNCTION "
               "bump_layer_editions('lookup')")

    op.execute("""
        CREATE TABLE streets (
            id serial PRIMARY KEY,
            name text,
            kind varchar(32) NOT NULL DEFAULT 'road',
            ref text,
            osm_id bigint,
            source varchar(16) NOT NULL,
            is_fictional boolean NOT NULL DEFAULT false,
            geom geometry(MultiLineString, 5897) NOT NULL,
            CONSTRAINT ck_streets_source CHECK (source IN ('osm', 'demo', 'file'))
        )""")
    op.execute("""
        CREATE TABLE addresses (
            id serial PRIMARY KEY,
            housenumber text NOT NULL,
            street text,
            name text,
            osm_id bigint,
            source varchar(16) NOT NULL,
            is_fictional boolean NOT NULL DEFAULT false,
            geom geometry(Point, 5897) NOT NULL,
            CONSTRAINT ck_addresses_source CHECK (source IN ('osm', 'demo', 'file'))
        )""")
    op.execute("""
        CREATE TABLE places (
            id serial PRIMARY KEY,
            name text NOT NULL,
            kind varchar(32) NOT NULL,
            osm_id bigint,
            source varchar(16) NOT NULL,
            is_fictional boolean NOT NULL DEFAULT false,
            geom geometry(Point, 5897) NOT NULL,
            CONSTRAINT ck_places_source CHECK (source IN ('osm', 'demo', 'file'))
        )""")
    for table in BASEMAP_TABLES:
        op.execute(f"CREATE INDEX idx_{table}_geom ON {table} USING gist (geom)")
    op.execute("CREATE INDEX ix_streets_name_trgm ON streets "
               "USING gin (public.f_search_norm(name) gin_trgm_ops)")
    op.execute("CREATE INDEX ix_places_name_trgm ON places "
               "USING gin (public.f_search_norm(name) gin_trgm_ops)")
    op.execute("CREATE INDEX ix_addresses_street_trgm ON addresses "
               "USING gin (public.f_search_norm(street) gin_trgm_ops)")
    op.execute("INSERT INTO layer_editions (layer) VALUES ('streets')")
    for table in BASEMAP_TABLES:
        op.execute(f"CREATE TRIGGER {table}_layer_edition AFTER INSERT OR UPDATE OR DELETE OR "
                   f"TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION "
                   "bump_layer_editions('streets')")


def downgrade() -> None:
    for table in BASEMAP_TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")
    op.execute("DELETE FROM layer_editions WHERE layer = 'streets'")
    op.execute("DROP TRIGGER IF EXISTS red_lines_lookup_edition ON red_lines")
    op.execute("DROP TRIGGER IF EXISTS red_lines_reserve ON red_lines")
    op.execute("DROP FUNCTION IF EXISTS red_lines_reserve()")
    op.execute("DROP INDEX IF EXISTS idx_red_lines_reserve")
    op.execute("ALTER TABLE red_lines DROP COLUMN reserve, DROP COLUMN setback_m, "
               "DROP COLUMN cross_section")
    op.execute("DROP FUNCTION IF EXISTS f_road_reserve(geometry, double precision)")

"""The offline base map: named streets, house numbers and places (OpenStreetMap or the demo).

Read from an OSM extract by :mod:`planning_gis.basemap.osm`, written by
:mod:`planning_gis.basemap.store`; drawn as the ``streets`` layer and searched by the gazetteer
(:mod:`planning_gis.citizen.gazetteer`).
"""

"""Vector layers from PostGIS: MVT tiles, OGC API – Features collections, and the look-up."""

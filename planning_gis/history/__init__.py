"""What changed: the history of zones, red lines and plans (migration 0016), the zoning of a
place at a past date, and plans compared zone by zone.

Plain arguments in (a connection, ids, dates, geometries in EPSG:5897), plain values or domain
errors out; the web blueprint, the command line, the citizen's information sheet and the
workspace's zones import all call the same functions.
"""

"""The planner's workspace: upload a scan, place control points, check residuals, mask the
neatline, preview the warp and publish — the path by which every plan gets onto the map.

``uploads`` streams scans to content-addressed storage with limits and makes their previews;
``sheets`` holds the sheet's state machine, control points, versions and publishing (calling the
georeferencing engine); ``zones`` and ``plans`` are the forms around a plan; ``views`` is the
blueprint under ``/quan-tri``.
"""

"""The citizen's map: "what is planned here?" answered for one point, found from one search box.

``point`` gathers everything the side panel and the information sheet say about a point (zones
of every plan covering it, the governing plan, decisions, documents, accuracy); ``find`` reads
the search box (coordinates in either system, or words handed to the document library's search);
``snapshot`` draws the map around a point from PostGIS with PIL; ``info_sheet`` lays out the PDF.
The panel and the PDF are built from the same :func:`point.point_info`, so what the citizen saw
on screen is what they print.
"""

"""The citizen's map: "what is planned here?" answered for one point or plot, from one search box.

"What is planned here" is the serving layer's look-up (:mod:`layers.lookup`, ``/api/lookup``);
``place`` adds what the page shows beside it (administrative units, the data's date) and puts
both together for the information sheet; ``find`` reads the search box (coordinates in either
system, or words handed to the document library's search); ``snapshot`` draws the map around a
point or plot from PostGIS with PIL; ``info_sheet`` lays out the PDF. The panel and the PDF read
the same answer, so what the citizen saw on screen is what they print.
"""

"""Raster tiles of published map sheets: a rio-tiler reader per COG on a morecantile grid."""

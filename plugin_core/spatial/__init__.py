"""Spatial maths: directions and ERP pixels, FOA conventions, projections, direction paths,
binaural decoding, spatial metrics and analysis. Imports nothing above it but errors."""

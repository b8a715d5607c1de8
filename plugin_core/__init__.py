"""omnifoa core: video and audio I/O, projections, FOA maths, scenes, CLI."""

__version__ = "0.1.0"

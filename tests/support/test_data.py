"""Where the tests' own data files are (``tests/data``)."""

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[1] / "data"

"""Media in and out: video decode/encode/probe, audio files, stem writing, export with
spatial metadata."""

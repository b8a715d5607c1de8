"""Frozen per-frame image encoders shared by model families."""

"""Spatial conform: existing mono/stereo stems placed along a direction path as AmbiX."""

"""The ViSAGe family: an encoder-decoder over DAC codes, conditioned on CLIP features of a
field-of-view video, patch energy maps and the camera direction."""

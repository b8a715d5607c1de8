"""The object-Foley family: the bundled ``omnifoa-mini`` model.

It looks for sounding objects in the panorama (a small per-pixel classifier), follows each
one's direction and reads its visual events (a small learnt reader of flashes, pulses and
hops), then voices every object with sounds drawn from its learnt sound bank, placed as plane
waves along the object's path over a diffuse bed; what the camera's field of view sees is
brought forward. Nothing but the picture (and the camera direction) goes in.
"""

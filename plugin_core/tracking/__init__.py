"""Where things are over time in a 360 video: marked-object tracking and motion saliency.

``track_object`` follows an object marked once (direction + time) forward and backward
through the shot; ``propose_paths`` / ``strongest_path`` find where the visual action is
without a mark. Both give direction paths in omnifoa's convention (az 0 = front, positive to
the left; el positive up; degrees) that the generator's FoV branch and the binaural renderer
can follow.
"""

from plugin_core.tracking.gnomonic import direction_to_view_pixel, view_pixel_to_direction
from plugin_core.tracking.saliency import SalientPath, propose_paths, strongest_path
from plugin_core.tracking.spherical_tracker import track_object
from plugin_core.tracking.track import Track

__all__ = [
    "SalientPath",
    "Track",
    "direction_to_view_pixel",
    "propose_paths",
    "strongest_path",
    "track_object",
    "view_pixel_to_direction",
]

"""Video and embedded-audio I/O: probe, time-range decoding at the model frame rate, encoding.

Times are seconds from the start of the file (the stream's own start offset removed).
Decoding reads only the requested range, samples frames by presentation time (so
variable-frame-rate files work) and downscales while converting, so a full-size 4K/8K RGB
image is never held. Every failure a user can cause surfaces as one ``InputError`` sentence.
"""

from plugin_core.media.video.audio_track import read_audio_stream
from plugin_core.media.video.decode import (
    DecodedRange,
    VideoFrame,
    decode_range,
    fps_filter_picks,
    iter_frames,
)
from plugin_core.media.video.encode import write_video
from plugin_core.media.video.info import NotEquirectangularWarning, VideoInfo, aspect_warning, probe

__all__ = [
    "DecodedRange",
    "NotEquirectangularWarning",
    "VideoFrame",
    "VideoInfo",
    "aspect_warning",
    "decode_range",
    "fps_filter_picks",
    "iter_frames",
    "probe",
    "read_audio_stream",
    "write_video",
]

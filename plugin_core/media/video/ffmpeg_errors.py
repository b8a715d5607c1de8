"""Turning FFmpeg/OS exceptions into the short reason an ``InputError`` sentence quotes."""


def ffmpeg_reason(error: BaseException) -> str:
    """A short, single-line reason from an FFmpeg/OS error (no trailing full stop)."""
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return " ".join(str(text).split()).rstrip(".")

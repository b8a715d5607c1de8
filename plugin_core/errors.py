"""Errors that reach a user as one clear sentence."""


class OmnifoaError(Exception):
    """A problem the user can fix; its message says what is wrong and what to do."""


class InputError(OmnifoaError):
    """An input file, path or value is unusable."""

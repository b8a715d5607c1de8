"""Failures a command can meet, as the one sentence (and exit status) a user sees.

What the code raises for a user's mistake is an ``OmnifoaError`` with its own sentence; what
the system raises (a full disk, a read-only folder, a file that vanished, too little memory,
a file FFmpeg cannot decode, input nested too deeply) is turned into a sentence here. Only
``--debug`` shows a traceback. Anything else is a bug: one sentence, exit status 1.
"""

from __future__ import annotations

import errno

BAD_INPUT = 2
BUG = 1
INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as a shell reports it
SHOTS_FAILED = 3  # a batch ran and some of its shots failed or were cancelled

_ERRNO_SENTENCES = {
    errno.ENOSPC: "The disk is full while writing {name}; free some space and run again.",
    errno.EDQUOT: "The disk quota is used up while writing {name}; free some space.",
    errno.EROFS: "{name} is on a read-only disk; choose a folder you can write to.",
    errno.EACCES: "Permission denied for {name}; choose a file or folder you can use.",
    errno.EPERM: "The system does not allow this on {name}; choose another file or folder.",
    errno.ENOENT: "{name} does not exist (any more); check the path.",
    errno.ENOTDIR: "A part of {name} is not a folder; check the path.",
    errno.EISDIR: "{name} is a folder; give a file name.",
    errno.ENAMETOOLONG: "The name {name} is too long for the file system; choose a shorter one.",
    errno.EMFILE: "Too many files are open; close some programs and run again.",
    errno.EIO: "The disk reported an input/output error on {name}; check the disk.",
}


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def describe(exc: BaseException) -> tuple[str, int]:
    """(sentence, exit status) for an exception a command did not turn into a sentence."""
    if isinstance(exc, OSError):
        name = exc.filename or "a file"
        template = _ERRNO_SENTENCES.get(exc.errno or -1)
        if template is not None:
            return template.format(name=name), BAD_INPUT
        reason = exc.strerror or type(exc).__name__
        return f"Cannot use {name} ({_one_line(reason)}); check it and run again.", BAD_INPUT
    if isinstance(exc, MemoryError):
        return (
            "There is not enough memory for this job; try a shorter span, fewer variations or "
            "a smaller video.",
            BAD_INPUT,
        )
    if isinstance(exc, RecursionError):
        return "The input is nested too deeply to read; simplify it and run again.", BAD_INPUT
    if type(exc).__module__.startswith("av"):  # PyAV: a file FFmpeg cannot decode
        return f"FFmpeg could not read the media ({_one_line(exc)}); check the file.", BAD_INPUT
    if isinstance(exc, ValueError | OverflowError):
        return (
            f"A value is malformed or out of range ({_one_line(exc)}); check the arguments.",
            BAD_INPUT,
        )
    return (
        f"omnifoa met an internal error ({type(exc).__name__}: {_one_line(exc)}); run the "
        "command again with --debug and report what it prints.",
        BUG,
    )

"""Turning a library's exception into the one line a user sees."""

from __future__ import annotations


def first_line(error: BaseException) -> str:
    """The first non-empty line of the message, or the exception's type when it has none."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]

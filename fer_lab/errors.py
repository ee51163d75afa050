"""User-facing errors (one clear message saying what is wrong and how to fix it, no traceback) and notes."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class FerLabError(Exception):
    """A problem the user can fix. The message names the problem and the fix."""


def report_user_errors(fn: F) -> F:
    """Turn FerLabError into a one-line message on stderr and a non-zero exit status.

    KeyboardInterrupt exits 130 with a hint that rerunning the same command resumes.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except FerLabError as err:
            print(f"fer_lab: error: {err}", file=sys.stderr)
            sys.exit(EXIT_USER_ERROR)
        except KeyboardInterrupt:
            print("fer_lab: interrupted. Rerun the same command to resume from the last checkpoint.", file=sys.stderr)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper  # type: ignore[return-value]


def print_note(note: str | None) -> None:
    """Print `note` as a `fer_lab: note:` line; nothing for None (a check that had nothing to say)."""
    if note:
        print(f"fer_lab: note: {note}")

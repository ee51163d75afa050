"""The app's client errors: each a FerLabError with the HTTP status it answers with (400 when none is given)."""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Mapping, Sequence

from fer_lab.errors import FerLabError

SHOWN = 60
"""Characters of a client's value that an error message repeats."""


class ClientError(FerLabError):
    status = 400
    retry_after: int | None = None  # seconds, sent as Retry-After


class UnknownModel(ClientError):
    """A model the picker does not offer."""

    status = 404


class Stalled(ClientError):
    """An upload that stopped sending."""

    status = 408


class TooLarge(ClientError):
    """An upload over its limit."""

    status = 413


class TooSoon(ClientError):
    """A model switch sooner than the switches allowed."""

    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class Busy(ClientError):
    """Every slot of a kind of job (images, videos) is taken."""

    status = 503

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def shown(value: object) -> str:
    """repr(value) cut to SHOWN characters: what an error message may repeat of a client's input."""
    text = repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def check_names(
    names: Sequence[str], accepted: Sequence[str], what: str, notes: Mapping[str, str] | None = None
) -> None:
    """Refuse a name that is not one of `accepted` and a name given twice; `what` is what the names are ("setting").

    The refusal names the accepted ones, and notes[name] where there is one, else the nearest for a typo."""
    for name, count in Counter(names).items():
        if name not in accepted:
            near = difflib.get_close_matches(name, accepted, n=1)
            hint = (notes or {}).get(name) or (f"did you mean {near[0]!r}?" if near else "")
            raise FerLabError(
                f"unknown {what} {shown(name)}{f' ({hint})' if hint else ''}: the {what}s are {', '.join(accepted)}"
            )
        if count > 1:
            raise FerLabError(f"{what} {shown(name)} is sent {count} times: send it once")

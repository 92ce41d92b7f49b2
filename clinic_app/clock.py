"""The one source of "now" for the app, settable in tests so a 2-hour observation need not wait."""

from datetime import UTC, datetime, timedelta

_offset = timedelta(0)
_frozen: datetime | None = None


def utcnow() -> datetime:
    """Current time as an aware UTC datetime (shifted or frozen in tests)."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC) + _offset


def freeze(at: datetime | None) -> None:
    """Stop the clock at `at` (aware); None lets it run again."""
    global _frozen
    _frozen = at


def advance(delta: timedelta) -> None:
    """Move the clock forward by `delta`, frozen or running."""
    global _frozen, _offset
    if _frozen is not None:
        _frozen += delta
    else:
        _offset += delta


def reset() -> None:
    """Back to the real time."""
    global _frozen, _offset
    _frozen = None
    _offset = timedelta(0)

"""Record ids from URLs and query strings, bounded to what the database can hold.

Ids are 64-bit signed integers in PostgreSQL and SQLite; a larger number would reach the
driver and fail there (OverflowError, a 500). Such a number names no record, so a URL with one
is a 404 and a query-string id is a 400."""

from flask import abort, request
from werkzeug.routing import IntegerConverter

MAX_ID = 2**63 - 1


class IdConverter(IntegerConverter):
    """The `int` URL converter, refusing numbers above MAX_ID (the route then does not match)."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 (werkzeug's parameter name)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def id_arg(name: str) -> int | None:
    """The query-string id `name`: None when absent or empty, 400 when it is not a whole number
    from 1 to MAX_ID."""
    raw = request.args.get(name, "")
    if raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_ID:
        abort(400)
    return int(raw)

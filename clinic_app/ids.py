"""Record ids from URLs and query strings, bounded to what the database can hold.

Id columns are INTEGER: 32-bit signed in PostgreSQL (64-bit in SQLite, which still never
hands out more than PostgreSQL could hold for the same data). A larger number would reach the
database and fail there (OverflowError from the SQLite driver, "integer out of range" from
PostgreSQL: a 500). Such a number names no record, so a URL with one is a 404 and a
query-string id is a 400."""

from flask import abort, request
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1


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

"""Declarative base: constraint naming convention, UTC datetimes and shared column helpers."""

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from sqlalchemy import DateTime, Enum, ForeignKey, Integer, MetaData, String, TypeDecorator
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, mapped_column, registry
from sqlalchemy.sql.functions import FunctionElement

from clinic_app.clock import utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use clinic_app.clock.utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Quantity(TypeDecorator[Decimal]):
    """An exact quantity to the hundredth (mL, devices, mg), stored as an integer count of
    hundredths: SQLite keeps NUMERIC as floating point, where 5 - 4.68 is not 0.32, and a
    conditional `remaining >= :q` must compare exactly on both databases."""

    impl = Integer
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> int | None:
        if value is None:
            return None
        hundredths = Decimal(value) * 100
        if hundredths != hundredths.to_integral_value():
            raise ValueError(f"{value} is finer than a hundredth")
        return int(hundredths)

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return (Decimal(int(value)) / 100).quantize(HUNDREDTH)


HUNDREDTH = Decimal("0.01")


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime},
    )


intpk = Annotated[int, mapped_column(primary_key=True)]
created_at = Annotated[datetime, mapped_column(default=utcnow)]


def user_fk(nullable: bool = False, **kwargs: Any) -> Any:
    """An indexed foreign key to users.id."""
    return mapped_column(ForeignKey("users.id"), index=True, nullable=nullable, **kwargs)


def coded(codes: type[StrEnum], length: int, check: str) -> Enum:
    """A VARCHAR(length) holding one of `codes`' values, read back as the enum member, with a
    CHECK named `check` listing the values (no database enum type, so adding a code stays a
    plain CHECK change)."""
    return Enum(
        codes,
        native_enum=False,
        create_constraint=True,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
        length=length,
        name=check,
    )


def in_values(column: str, values: Any) -> str:
    """SQL for a named CHECK that `column` holds one of `values`."""
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class search_key(FunctionElement[str]):  # noqa: N801 - reads as a SQL function
    """lower(column) in byte order: a prefix range on it is exactly "starts with" whatever the
    database collation. SQLite compares bytes already; PostgreSQL is told COLLATE "C". Used both
    in expression indexes and in the queries they serve, so the two always match."""

    type = String()
    name = "search_key"
    inherit_cache = True


@compiles(search_key)
def _search_key(element: search_key, compiler: Any, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(search_key, "postgresql")
def _search_key_postgresql(element: search_key, compiler: Any, **kw: Any) -> str:
    # Parenthesised: an index expression with COLLATE must be.
    return f'(lower({compiler.process(element.clauses, **kw)}) COLLATE "C")'

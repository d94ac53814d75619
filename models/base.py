"""Declarative base and the column types every table shares.

Money is integer öre (``BigInteger``); instants are naive UTC (see ``likvid.clock``);
business dates are ``Date``. JSON columns hold only ids and structured facts.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, DateTime, Integer, MetaData, String
from sqlalchemy.orm import DeclarativeBase, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: An integer primary key that autoincrements on SQLite as well as PostgreSQL.
AutoId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        datetime: DateTime(),
        date: Date(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
        int: BigInteger(),
    }


def id_column(length: int = 100) -> Any:
    return mapped_column(String(length), primary_key=True)

"""The compiled write statements and the cursor that runs them (index.statements)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from openvna.index import Index
from openvna.index.schema import studies
from openvna.index.statements import Cursor, Prepared, in_list, statements_for


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it(index: Index) -> None:
    """Index translates SQLAlchemy's errors (IndexUnavailable, retries by SQLSTATE): the
    cursor's must look the same, the driver's error as ``orig``."""
    with index.engine.connect() as conn:
        cursor = Cursor(conn)
        with pytest.raises(DBAPIError) as caught:
            cursor.execute(Prepared("SELECT nothing FROM nowhere", ()), {})
        assert isinstance(caught.value.orig, conn.dialect.loaded_dbapi.Error)
        assert "nowhere" in str(caught.value)


def test_statements_bind_every_value_from_their_parameters(index: Index) -> None:
    """A constant SQLAlchemy would bind (coalesce(..., 0)) is refused at compile time: the
    cursor passes only the parameters it is given."""
    with index.engine.connect() as conn:
        sql = statements_for(conn)
        with pytest.raises(ValueError, match="constants"):
            sql._compile(select(func.coalesce(func.sum(studies.c.num_series), 0)))
        assert Cursor(conn).scalar(sql.series_study, {"uid": "1.2.3"}) is None


def test_a_list_parameter_is_padded_to_a_power_of_two() -> None:
    """IN ignores the repeated last value; sizes 1, 2, 4, 8... are all that get compiled."""
    assert in_list("pk", []) == (0, {})
    assert in_list("pk", [7]) == (1, {"pk0": 7})
    assert in_list("pk", [3, 1, 2]) == (4, {"pk0": 3, "pk1": 1, "pk2": 2, "pk3": 2})
    assert in_list("uid", ["a"] * 5)[0] == 8

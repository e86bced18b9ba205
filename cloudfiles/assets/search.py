"""Read-only SQL over in-memory sqlite tables built from row dicts."""
from __future__ import annotations

import json
import sqlite3

from cloudfiles.exceptions import InvalidInputError

_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION}


def _cell(v):
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    if isinstance(v, bool):
        return int(v)
    return v


def run_query(tables: dict[str, list[dict]], sql: str) -> list[dict]:
    """Rows of ``sql`` (one SELECT) over ``tables``; anything else is refused."""
    if not isinstance(sql, str) or not sql.strip():
        raise InvalidInputError("search: SQL must be a non-empty string")
    conn = sqlite3.connect(":memory:")
    try:
        for name, rows in tables.items():
            cols = sorted({k for r in rows for k in r}) or ["filepath"]
            q = ", ".join('"' + c.replace('"', '""') + '"' for c in cols)
            conn.execute(f"CREATE TABLE {name} ({q})")
            conn.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(cols))})",
                             [[_cell(r.get(c)) for c in cols] for r in rows])
        conn.set_authorizer(lambda action, *a: sqlite3.SQLITE_OK if action in _ALLOWED else sqlite3.SQLITE_DENY)
        try:
            cur = conn.execute(sql)
        except (sqlite3.Error, sqlite3.Warning) as err:
            raise InvalidInputError(f"search: {err}") from None
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, row)) for row in cur.fetchall()]
    finally:
        conn.close()

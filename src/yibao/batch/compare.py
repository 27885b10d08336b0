"""`yibao batch compare BASE NEW`: what a policy change does to a year, by region, scheme, hospital
level and person category — the table a bureau needs before it unifies policy (基金测算).

Both result sets are Parquet files written by ``yibao batch settle`` over the same claims; DuckDB
joins them by claim and sums exactly (integer fen). "People whose burden rises" counts, in each
group, the persons whose summed personal burden under the new policy exceeds the base.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from yibao.errors import InputError

GROUPS = {
    "region": "b.region",
    "scheme": "b.scheme",
    "level": "b.hospital_level",
    "category": "b.person_type || '/' || b.assistance_category",
}


@dataclass(frozen=True, slots=True)
class CompareRow:
    keys: tuple[str, ...]
    claims: int
    persons: int
    base_fund: int
    new_fund: int
    base_burden: int
    new_burden: int
    burden_up: int  # persons whose burden rises


def compare(base: Path, new: Path, by: tuple[str, ...]) -> list[CompareRow]:
    for key in by:
        if key not in GROUPS:
            raise InputError("--by", f"未知的分组 {key!r}；可用：{', '.join(GROUPS)}")
    files = []
    for label, folder in (("BASE", base), ("NEW", new)):
        path = folder / "results.parquet" if folder.is_dir() else folder
        if not path.exists():
            raise InputError(label, f"找不到结算结果 {path}")
        files.append(str(path))
    con = duckdb.connect()
    try:
        con.execute("CREATE TEMP TABLE b AS SELECT * FROM read_parquet(?)", [files[0]])
        con.execute("CREATE TEMP TABLE n AS SELECT * FROM read_parquet(?)", [files[1]])
        only = con.execute(
            "SELECT (SELECT count(*) FROM b ANTI JOIN n USING (claim_id)), (SELECT count(*) FROM n ANTI JOIN b USING (claim_id))"
        ).fetchone()
        assert only is not None
        if only[0] or only[1]:
            raise InputError("NEW", f"两次结算的理赔不一致：仅在 BASE {only[0]} 笔，仅在 NEW {only[1]} 笔")
        keys = [GROUPS[k] for k in by] or ["'全部'"]
        select_keys = ", ".join(f"{k} AS k{i}" for i, k in enumerate(keys))
        group = ", ".join(f"k{i}" for i in range(len(keys)))
        rows = con.execute(f"""
            WITH j AS (
                SELECT {select_keys}, b.person_id,
                       b.fund_pay_total AS bf, n.fund_pay_total AS nf, b.personal_burden AS bb, n.personal_burden AS nb
                FROM b JOIN n USING (claim_id)
            ), per_person AS (
                SELECT {group}, person_id, count(*) AS c, sum(bf) AS bf, sum(nf) AS nf, sum(bb) AS bb, sum(nb) AS nb
                FROM j GROUP BY {group}, person_id
            )
            SELECT {group}, sum(c), count(*), sum(bf), sum(nf), sum(bb), sum(nb), count(*) FILTER (WHERE nb > bb)
            FROM per_person GROUP BY {group} ORDER BY {group}
        """).fetchall()
    finally:
        con.close()
    n = len(keys)
    return [CompareRow(tuple(str(v) for v in r[:n]), *(int(v) for v in r[n:])) for r in rows]

"""The claims in settlement order, for the chain (NumPy arrays) and the results (an Arrow table).

Every per-claim table of the executor carries ``idx``, the claim's place in settlement order, but
DuckDB's joins keep rows in no order, and a sort is paid by the width of what it moves: at 8.4 M
claims one ``ORDER BY idx`` over the thirty-odd columns the chain and the results need, text
included, took 8.4 s; the same columns unsorted 2.0 s. So the sorts here are narrow: the numbers
and few-valued columns (ENUMs, read as Arrow dictionaries) in one, the text unique per claim (claim
and person ids) in another, the split totals in a third, each in parallel; reversals and chronic
slots (a few rows each) are scattered to their ``idx``. A NumPy gather through the inverse
permutation instead was measured slower still: random access over 8.4 M rows is cache misses.
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: what the chain reads per claim from ``joined`` (integers and booleans, in settlement order)
_OWN = ("key", "g", "level", "transfer_from", "day_surgery", "waiting", "account_use", "mutual_aid_balance",
        "cap_raise")  # fmt: skip
_SPLIT = ("total", "full_self_pay", "over_limit", "self_pay_first", "policy_range")


def claims_in_order(con: duckdb.DuckDBPyConnection) -> tuple[dict[str, Any], pa.Table]:
    """The chain's arrays ``C`` and the result context table (the columns :func:`results` writes
    beside the amounts; a reversal takes its original's visit type, rule date, year, key and region)."""
    rows = con.sql("""
        SELECT k.key, k.g, k.level, coalesce(k.transfer_from, -1) AS transfer_from, k.day_surgery,
               k.waiting, k.account_use, coalesce(k.mutual_aid_balance, 0) AS mutual_aid_balance,
               coalesce(k.cap_raise, 0) AS cap_raise, rg.pooling::e_region AS region, k.scheme::e_scheme AS scheme,
               k.person_type::e_person_type AS person_type, k.assistance_category::e_category AS assistance_category,
               k.visit_type::e_visit AS visit_type, k.rule_date, k.year::BIGINT AS year
        FROM keyed k JOIN pooling rg USING (insured_region) ORDER BY k.idx""").to_arrow_table()
    n = rows.num_rows
    C: dict[str, Any] = {name: _ints(rows, name) for name in _OWN}
    for name in _SPLIT:  # a reversal has no split of its own (0); it negates its original's
        C[name] = np.zeros(n, dtype=np.int64)
    split = con.sql(f"SELECT idx, {', '.join(_SPLIT)} FROM claim_split ORDER BY idx").to_arrow_table()
    at = _ints(split, "idx")
    for name in _SPLIT:
        C[name][at] = _ints(split, name)
    C["orig"] = np.full(n, -1, dtype=np.int64)
    reversal = con.sql("SELECT ridx, idx FROM reversal").to_arrow_table()
    C["orig"][_ints(reversal, "ridx")] = _ints(reversal, "idx")
    C["slot"] = np.full(n, -1, dtype=np.int64)
    slots = con.sql("""SELECT j.idx, cs.slot FROM joined j
                       JOIN chronic_slot cs ON cs.g = j.g AND cs.disease = j.disease
                       WHERE j.visit_type = 'chronic'""").to_arrow_table()  # fmt: skip
    C["slot"][_ints(slots, "idx")] = _ints(slots, "slot")
    C["rank"] = rank_in_group(C["g"])
    text = con.sql("SELECT claim_id, person_id, reverses, disease FROM joined ORDER BY idx").to_arrow_table()
    C["disease"] = text.column("disease")  # read only for an error message
    # a reversal's result row shows its original's context: gather those columns from the original's row
    rev = C["orig"] >= 0
    source = np.arange(n, dtype=np.int64)
    source[rev] = C["orig"][rev]
    original = pa.array(source)
    context = pa.table({
        "claim_id": text.column("claim_id"), "person_id": text.column("person_id"),
        "region": _take(rows, "region", original), "scheme": rows.column("scheme"),
        "person_type": rows.column("person_type"), "assistance_category": rows.column("assistance_category"),
        "r_visit_type": _take(rows, "visit_type", original), "hospital_level": pa.array(C["level"]),
        "r_rule_date": _take(rows, "rule_date", original), "r_year": _take(rows, "year", original),
        "reverses": text.column("reverses"), "r_key": pa.array(C["key"][source]),
    })  # fmt: skip
    return C, context


def _ints(table: pa.Table, name: str) -> np.ndarray:
    """A column without nulls as one int64 (or bool) NumPy array."""
    column = table.column(name)
    values: np.ndarray = column.to_numpy()
    return values if values.dtype == np.bool_ else values.astype(np.int64, copy=False)


def _take(table: pa.Table, name: str, rows: pa.Array) -> pa.Array:
    """``table[name]`` at ``rows`` (a dictionary column gathers its indices only)."""
    return pc.take(table.column(name).combine_chunks(), rows)


def rank_in_group(g: np.ndarray) -> np.ndarray:
    """Each claim's place among its person-year's claims (0, 1, …), claims being in settlement order.

    NumPy rather than a SQL window: a stable sort of the (nearly sorted) person-year index is a
    fraction of ``row_number() OVER (PARTITION BY g ORDER BY idx)`` and its chunked output; and
    where ``g`` never decreases (a person's years do not interleave: any batch of one year) the
    groups are runs, with no sort at all."""
    if len(g) and bool(np.all(g[1:] >= g[:-1])):
        start = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
        return np.arange(len(g), dtype=np.int64) - np.repeat(start, np.diff(np.r_[start, len(g)]))
    order = np.argsort(g, kind="stable")
    sorted_g = g[order]
    start = np.flatnonzero(np.r_[True, sorted_g[1:] != sorted_g[:-1]])
    within = np.arange(len(g), dtype=np.int64) - np.repeat(start, np.diff(np.r_[start, len(g)]))
    rank = np.empty_like(within)
    rank[order] = within
    return rank

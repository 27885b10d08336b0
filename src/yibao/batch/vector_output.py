"""The vectorised executor's outputs: per-claim results and closing accumulators, in the scalar files' columns.

Nothing is joined or sorted here. The claims' result context arrives from
:func:`yibao.batch.vector_claims.claims_in_order` as one Arrow table in settlement order, the chain's outputs are arrays in the same order, and
``persons`` is ordered by (person_id, year) with the state arrays indexed by its row number; so
``results`` and ``closing`` are views over one Arrow table each, the columns side by side
(zero-copy), and COPY streams them to Parquet in that order. The few per-key and per-mask strings (fund codes,
exception rule ids) travel as dictionary arrays: an index per row, each string once.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii as _json_text  # json.dumps's own string encoder
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from yibao.batch.vector_chain import STATE, Chain
from yibao.batch.vector_terms import TermsTable
from yibao.engine.result import (
    ACCOUNT,
    ASSISTANCE,
    LARGE_EXPENSE,
    SETLINFO_FIELD,
    TILTED_ASSISTANCE,
    pooled_fund_code,
)

_ENUMS = {
    "e_region": "SELECT DISTINCT pooling FROM pooling",
    "e_scheme": "SELECT DISTINCT scheme FROM persons WHERE scheme IS NOT NULL",
    "e_person_type": "SELECT DISTINCT person_type FROM persons WHERE person_type IS NOT NULL",
    "e_category": "SELECT DISTINCT assistance_category FROM persons WHERE assistance_category IS NOT NULL",
    "e_visit": "SELECT DISTINCT visit_type FROM joined WHERE visit_type IS NOT NULL",
}


def context_enums(con: duckdb.DuckDBPyConnection) -> None:
    """The ENUM types of the result context (:func:`yibao.batch.vector_claims.claims_in_order`), from
    the values present in this batch: few-valued text travels as dictionary indices, not strings."""
    for name, values in _ENUMS.items():
        con.execute(f"DROP TYPE IF EXISTS {name}")
        con.execute(f"CREATE TYPE {name} AS ENUM ({values})")


_SETL = ("hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay")


def chronic_slots(con: duckdb.DuckDBPyConnection) -> None:
    """One slot per person-year × disease with chronic claims or opening chronic accumulators."""
    opening = []
    for g, text in con.execute("SELECT rowid, chronic FROM persons WHERE chronic <> '{}'").fetchall():
        for disease, slot in json.loads(text).items():
            opening.append((g, disease, slot.get("deductible_paid", 0), slot.get("paid", 0)))
    con.register("opening_chronic", pa.table({
        name: pa.array([o[i] for o in opening], type=t) for i, (name, t) in enumerate(
            (("g", pa.int64()), ("disease", pa.string()), ("deductible_paid", pa.int64()), ("paid", pa.int64())))}))  # fmt: skip
    con.execute("""CREATE OR REPLACE TEMP TABLE chronic_slot AS
        SELECT row_number() OVER (ORDER BY g, disease) - 1 AS slot, g, disease,
               coalesce(o.deductible_paid, 0) AS deductible_paid, coalesce(o.paid, 0) AS paid
        FROM (SELECT DISTINCT g, disease FROM keyed WHERE visit_type = 'chronic'
              UNION SELECT g, disease FROM opening_chronic) s
        LEFT JOIN opening_chronic o USING (g, disease)""")


def opening(con: duckdb.DuckDBPyConnection) -> dict[str, np.ndarray]:
    """The opening accumulators of every person-year, indexed by its row in ``persons``."""
    found = con.execute(f"SELECT {', '.join(STATE)} FROM persons").fetchnumpy()  # in row order
    return {name: np.asarray(v, dtype=np.int64).copy() for name, v in found.items()}


def _codes(values: list[str], index: np.ndarray) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(index, pa.int32()), pa.array(values, pa.string()))


def results(
    con: duckdb.DuckDBPyConnection, claims: pa.Table, chain: Chain, terms: TermsTable, snapshot_id: str
) -> None:
    """The ``results`` view: one row per claim in settlement order, columns as :func:`result_row`."""
    C, out = chain.C, chain.res
    rev = C["orig"] >= 0
    key = claims.column("r_key").to_numpy().astype(np.int64)
    res: dict[str, Any] = {}
    for name in ("total", "full_self_pay", "over_limit", "self_pay_first", "policy_range"):
        v = C[name].copy()
        v[rev] = -C[name][C["orig"][rev]]
        res[name] = v
    res |= {"deductible_paid": out["ded"], "fund_pay_total": out["fund"], "personal_burden": out["burden"],
            "account_pay": out["acct"], "mutual_aid_pay": out["mutual"], "cash_pay": out["cash"]}  # fmt: skip
    # the rest of the amounts are SQL over these columns, evaluated as COPY streams the rows (no
    # whole-length temporaries): each setlinfo field is the sum of the funds that report into it
    pool_codes = [pooled_fund_code("employee" if e else "resident") for e in terms.cols["employee"]]
    pool_setl = np.array([_SETL.index(SETLINFO_FIELD[c]) for c in pool_codes], dtype=np.int8)[key]
    ci_setl = np.array([_SETL.index(s) if s in _SETL else -1 for s in terms.cols["ci_setl"]], dtype=np.int8)[key]
    fixed = {LARGE_EXPENSE: "_large", ASSISTANCE: "_aid", TILTED_ASSISTANCE: "_tilted"}
    computed = ["0::BIGINT AS hospital_burden", "_ratio AS pooled_ratio"]
    for i, field in enumerate(_SETL):
        parts = [f"CASE WHEN _pool_setl = {i} THEN _pooled ELSE 0 END", f"CASE WHEN _ci_setl = {i} THEN _ci ELSE 0 END"]
        parts += [column for code, column in fixed.items() if SETLINFO_FIELD.get(code, "oth_pay") == field]
        computed.append(f"{' + '.join(parts)} AS setl_{field}")
    computed += [
        "cash_pay AS setl_psn_cash_pay",
        "mutual_aid_pay AS setl_acct_mulaid_pay",
        "0::BIGINT AS setl_hifdm_pay",
    ]
    # what details and reasons are made of
    masks, mask_ix = _distinct(out["mask"])
    res |= {"_ratio": out["ratio"], "_pool_setl": pool_setl, "_ci_setl": ci_setl,
            "_pooled": out["pooled"], "_large": out["large"], "_ci": out["ci"], "_aid": out["aid"],
            "_tilted": out["tilted"],
            "_pool_code": _codes(*_dictionary(pool_codes, key)),
            "_ci_code": _codes(*_dictionary([str(c) for c in terms.cols["ci_code"]], key)),
            "_exc": _codes([",".join(terms.reasons(int(m))) for m in masks], mask_ix),
            "_reversal": rev, "_waiting": C["waiting"] & ~rev, "_cap_hit": chain.cap_hit}  # fmt: skip
    # one table, claims' columns beside the chain's (zero-copy): DuckDB scans it in parallel, in order
    out_table = claims.select(["claim_id", "person_id", "region", "scheme", "person_type", "assistance_category",
                               "r_visit_type", "hospital_level", "r_rule_date", "r_year", "reverses"])  # fmt: skip
    for name, values in res.items():
        out_table = out_table.append_column(name, values if isinstance(values, pa.Array) else pa.array(values))
    con.register("results_out", out_table)
    amounts = ", ".join([*(name for name in res if not name.startswith("_")), *computed])
    sid = snapshot_id.replace("'", "''")
    con.execute(f"""CREATE OR REPLACE TEMP VIEW results AS
        SELECT c.claim_id, c.person_id, c.region::VARCHAR AS region, c.scheme::VARCHAR AS scheme,
               c.person_type::VARCHAR AS person_type, c.assistance_category::VARCHAR AS assistance_category,
               c.r_visit_type::VARCHAR AS visit_type, c.hospital_level,
               strftime(c.r_rule_date, '%Y-%m-%d') AS rule_date, c.r_year AS year,
               c.reverses, '{sid}' AS snapshot_id, {amounts},
               concat_ws(';', CASE WHEN _pooled <> 0 THEN _pool_code || ':' || _pooled END,
                              CASE WHEN _large <> 0 THEN '{LARGE_EXPENSE}:' || _large END,
                              CASE WHEN _ci <> 0 THEN _ci_code || ':' || _ci END,
                              CASE WHEN _aid <> 0 THEN '{ASSISTANCE}:' || _aid END,
                              CASE WHEN _tilted <> 0 THEN '{TILTED_ASSISTANCE}:' || _tilted END,
                              CASE WHEN account_pay + mutual_aid_pay <> 0
                                THEN '{ACCOUNT}:' || (account_pay + mutual_aid_pay) END) AS details,
               CASE WHEN _reversal THEN 'REVERSAL' ELSE
                 concat_ws(',', CASE WHEN _waiting THEN 'WAITING' END, CASE WHEN _cap_hit THEN 'CAP-POOL' END,
                           NULLIF(_exc, '')) END AS reasons
        FROM results_out c""")


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)``; by counting where the values are small (the
    exception masks: a bit per rule), which at 8.4 M claims is 0.03 s against 1.7 s for the sort."""
    if len(values) and values.min() >= 0 and values.max() < 1 << 16:
        present = np.flatnonzero(np.bincount(values))
        position = np.zeros(int(present[-1]) + 1, dtype=np.int64)
        position[present] = np.arange(len(present))
        return present, position[values]
    return np.unique(values, return_inverse=True)


def _dictionary(values: list[str], key: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Distinct ``values`` and, per row, the index of its key's value among them."""
    distinct = sorted(set(values))
    return distinct, np.searchsorted(distinct, values)[key]


def closing(con: duckdb.DuckDBPyConnection, chain: Chain) -> None:
    """The ``closing`` view: every person-year's closing accumulators (the opening ones where it had
    no claims), in the order of ``persons``."""
    n = len(chain.S["account_balance"])
    had = np.zeros(n, dtype=bool)
    had[chain.C["g"]] = True
    # json.dumps(..., sort_keys=True) of {disease: {"deductible_paid": d, "paid": p}} per person-year,
    # written out by DuckDB (a city-year has a million such objects): slots are in (g, disease) order,
    # the keys as json writes them (ASCII escapes), once per distinct disease
    con.register("slot_state", pa.table({"slot": np.arange(len(chain.CH["paid"]), dtype=np.int64),
                                         "d": chain.CH["deductible_paid"], "p": chain.CH["paid"]}))  # fmt: skip
    diseases = [d for (d,) in con.execute("SELECT DISTINCT disease FROM chronic_slot").fetchall()]
    con.register("disease_key", pa.table({"disease": pa.array(diseases, pa.string()),
                                          "key": [_json_text(d) for d in diseases]}))  # fmt: skip
    found = con.sql("""
        SELECT cs.g, '{' || string_agg(k.key || ': {"deductible_paid": ' || s.d || ', "paid": ' || s.p || '}', ', '
                                       ORDER BY cs.slot) || '}' AS text
        FROM chronic_slot cs JOIN slot_state s USING (slot) JOIN disease_key k USING (disease)
        WHERE s.d <> 0 OR s.p <> 0 GROUP BY cs.g""").to_arrow_table()
    index = np.zeros(n, dtype=np.int32)
    index[found.column("g").to_numpy()] = np.arange(1, found.num_rows + 1, dtype=np.int32)
    texts = pa.concat_arrays([pa.array(["{}"], pa.string()), *found.column("text").cast(pa.string()).chunks])
    table = con.sql("SELECT person_id, scheme, region, year::BIGINT AS year, chronic FROM persons").to_arrow_table()
    for name in STATE:
        table = table.append_column(name, pa.array(chain.S[name]))
    table = table.append_column("_had", pa.array(had))
    table = table.append_column("_chronic", pa.DictionaryArray.from_arrays(pa.array(index, pa.int32()), texts))
    con.register("closing_out", table)
    con.execute(f"""CREATE OR REPLACE TEMP VIEW closing AS
        SELECT person_id, scheme, region, year, {", ".join(STATE)},
               CASE WHEN _had THEN _chronic ELSE coalesce(chronic, '{{}}') END AS chronic
        FROM closing_out""")

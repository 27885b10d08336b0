"""The vectorised batch executor (``yibao batch settle --engine duckdb``).

Input: a DuckDB connection holding the normalised tables ``claims`` (one row per claim, ``idx`` its
place in settlement order), ``lines`` and ``persons`` (:mod:`yibao.batch.vector_input` makes them
from files or from claims already read). The plan:

1. contexts (SQL + one scalar lookup per distinct value): each claim's rule date, policy in force,
   person-year, waiting period, rule-context projection → a key into the terms table
   (:mod:`yibao.batch.vector_terms`);
2. the fee split of every line and the claim totals (one SQL query, :mod:`yibao.batch.vector_split`);
3. the calculation chain on arrays (:mod:`yibao.batch.vector_chain`);
4. results and closing accumulators as Arrow tables, in the columns of the scalar executor's files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from yibao.batch.vector_chain import STATE, Chain
from yibao.batch.vector_split import catalog_tables, load_catalogs, run_split
from yibao.batch.vector_terms import TermsTable, build_row
from yibao.engine.result import (
    ACCOUNT,
    ASSISTANCE,
    LARGE_EXPENSE,
    SETLINFO_FIELD,
    TILTED_ASSISTANCE,
    pooled_fund_code,
)
from yibao.engine.settle import area_of
from yibao.errors import InputError, NoPolicyInForce
from yibao.policy.context import RuleContext
from yibao.policy.resolved import ResolvedPolicy
from yibao.policy.snapshot import PolicySnapshot

_LEVELS = ("level_0", "level_1", "level_2", "level_3")


@dataclass
class VectorRun:
    """The run's ``results`` and ``closing`` tables, in ``con``."""

    con: duckdb.DuckDBPyConnection
    terms: TermsTable

    @property
    def results(self) -> pa.Table:
        return self.con.sql("SELECT * FROM results ORDER BY idx").to_arrow_table().drop(["idx"])

    @property
    def accumulators(self) -> pa.Table:
        return self.con.sql("SELECT * FROM closing").to_arrow_table()

    def write(self, out: Path) -> None:
        """``results.parquet`` and ``accumulators.parquet`` (DuckDB writes them, in parallel)."""
        out.mkdir(parents=True, exist_ok=True)
        for table, name, order in (("results", "results", "ORDER BY idx"), ("closing", "accumulators", "")):
            target = str(out / f"{name}.parquet").replace("'", "''")
            self.con.execute(f"COPY (SELECT * EXCLUDE (idx) FROM {table} {order}) TO '{target}' (FORMAT parquet)"
                             if table == "results" else f"COPY closing TO '{target}' (FORMAT parquet)")  # fmt: skip


def _rule_dates(con: duckdb.DuckDBPyConnection, snapshot: PolicySnapshot) -> None:
    """Each claim's rule date (as :func:`yibao.engine.settle.rule_date_of`) and its policy index."""
    basis = []
    for region, day in con.execute("SELECT DISTINCT insured_region, settlement_date FROM claims "
                                   "WHERE visit_type = 'inpatient'").fetchall():  # fmt: skip
        policy = snapshot.at(region, day, "insuplc_admdvs")
        path = "settlement.rule_date.inpatient"
        value = policy.values[path][1].value if path in policy.values else "discharge"
        basis.append((region, day, value))
    con.execute("CREATE OR REPLACE TEMP TABLE rule_basis (insured_region VARCHAR, settlement_date DATE, basis VARCHAR)")
    if basis:
        con.executemany("INSERT INTO rule_basis VALUES (?, ?, ?)", basis)
    con.execute("""CREATE OR REPLACE TEMP TABLE dated AS
        SELECT c.*, CASE WHEN c.visit_type <> 'inpatient' OR b.basis = 'settlement' THEN c.settlement_date
                         WHEN b.basis = 'discharge' THEN c.discharge_date ELSE c.admission_date END AS rule_date,
               coalesce(b.basis, '') AS basis
        FROM claims c LEFT JOIN rule_basis b USING (insured_region, settlement_date)""")
    missing = con.execute("SELECT claim_id, basis FROM dated WHERE rule_date IS NULL ORDER BY idx LIMIT 1").fetchone()
    if missing:
        field = "dscg_date" if missing[1] == "discharge" else "adm_date"
        raise InputError(field, f"理赔 {missing[0]}：住院结算必须给出该日期（本统筹区按此日期确定适用政策）")


def _persons(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("""CREATE OR REPLACE TEMP TABLE joined AS
        SELECT d.*, year(d.rule_date) AS year, p.scheme, p.person_type, p.age, p.sex, p.assistance_category,
               p.civil_servant, p.cap_raise, p.person_id IS NULL AS no_person,
               p.benefits_from IS NOT NULL AND
                 (CASE WHEN d.visit_type = 'inpatient' AND d.admission_date IS NOT NULL THEN d.admission_date
                       ELSE d.settlement_date END) < p.benefits_from AS waiting
        FROM dated d LEFT JOIN persons p ON p.person_id = d.person_id AND p.year = year(d.rule_date)""")
    lost = con.execute("SELECT claim_id, person_id, year FROM joined WHERE no_person ORDER BY idx LIMIT 1").fetchone()
    if lost:
        raise InputError("persons", f"理赔 {lost[0]}：人员 {lost[1]} 缺少 {lost[2]} 年的参保状态与期初累计")


def _keys(con: duckdb.DuckDBPyConnection, snapshot: PolicySnapshot) -> tuple[TermsTable, list[ResolvedPolicy]]:
    """A key per claim: the policy in force and the projection of its rule context, as ``settle`` finds them.

    The rule date matters only through the policy in force (the scalar engine shares terms per
    policy and projection too), so contexts are gathered per policy, not per day: a few thousand
    distinct contexts for a city-year, however many days it spans."""
    policies: list[ResolvedPolicy] = []
    at: list[tuple[str, date, int]] = []
    for region, day in con.execute("SELECT DISTINCT insured_region, rule_date FROM joined").fetchall():
        policy = snapshot.at(region, day, "insuplc_admdvs")
        if all(p is not policy for p in policies):
            policies.append(policy)
        at.append((region, day, next(i for i, p in enumerate(policies) if p is policy)))
    con.register("policy_at", pa.table({"insured_region": [a[0] for a in at], "rule_date": [a[1] for a in at],
                                        "p": pa.array([a[2] for a in at], pa.int64())}))  # fmt: skip
    areas = {(r, t): area_of(snapshot.tree.pooling_region(r, "insuplc_admdvs"), t)
             for r, t in con.execute("SELECT DISTINCT insured_region, treatment_region FROM joined").fetchall()}  # fmt: skip
    table = TermsTable()
    keys: dict[tuple[object, ...], int] = {}
    combos = []
    for row in con.execute(f"""SELECT p, {", ".join(_CONTEXT)}, min(rule_date) FROM joined
                               JOIN policy_at USING (insured_region, rule_date) GROUP BY ALL""").fetchall():
        p, region, treated, scheme, ptype, cat, age, sex, visit, level, filed, day_surgery, disease, civil, day = row
        policy = policies[p]
        ctx = RuleContext(scheme, ptype, cat, age, sex, visit, _LEVELS[level], areas[(region, treated)],
                          filed, day_surgery, disease, civil)  # fmt: skip
        key = (p, policy.projection(ctx), scheme, visit, level, disease, cat)
        k = keys.get(key)
        if k is None:
            k = keys[key] = len(table.rows)
            row_terms = build_row(table, policy, ctx, day)
            row_terms["policy"] = p
            table.rows.append(row_terms)
        combos.append((*row[:-1], k))
    table.freeze()
    con.register("combo_arrow", pa.table({c: [r[i] for r in combos] for i, c in enumerate(("p", *_CONTEXT, "key"))}))
    con.execute("CREATE OR REPLACE TEMP TABLE combo AS SELECT * FROM combo_arrow")
    con.unregister("combo_arrow")
    return table, policies


#: the claim and person columns a rule context is made of (:class:`RuleContext`)
_CONTEXT = ("insured_region", "treatment_region", "scheme", "person_type", "assistance_category", "age", "sex",
            "visit_type", "level", "filed", "day_surgery", "disease", "civil_servant")  # fmt: skip


def _reversals(con: duckdb.DuckDBPyConnection) -> None:
    """A reversal row names an earlier claim of the same person-year, not reversed before, not itself a reversal."""
    bad = con.execute("""
        SELECT r.claim_id, r.reverses, o.idx IS NULL OR o.idx > r.idx AS missing, r.nth > 1 AS twice,
               o.reverses IS NOT NULL AS of_reversal, o.person_id <> r.person_id AS other_person, o.year, r.year
        FROM (SELECT *, row_number() OVER (PARTITION BY reverses ORDER BY idx) AS nth FROM keyed
              WHERE reverses IS NOT NULL) r
        LEFT JOIN keyed o ON o.claim_id = r.reverses
        WHERE o.idx IS NULL OR o.idx > r.idx OR r.nth > 1 OR o.reverses IS NOT NULL OR o.person_id <> r.person_id
           OR o.year <> r.year
        ORDER BY r.idx LIMIT 1""").fetchone()
    if bad is None:
        return
    claim, original, missing, twice, of_reversal, other_person, year, own_year = bad
    if missing:
        raise InputError("reverses", f"冲正 {claim}：原理赔 {original} 不在其之前")
    if twice:
        raise InputError("reverses", f"冲正 {claim}：原理赔 {original} 已被冲正")
    if of_reversal:
        raise InputError("original", "不能冲销一笔冲销结算")
    if other_person:
        raise InputError("state.psn_no", "累计数据与原结算的参保人不符")
    raise InputError("state.year", f"原结算属于 {year} 年，累计数据为 {own_year} 年；不能跨年度冲销")


def _pooling(con: duckdb.DuckDBPyConnection, snapshot: PolicySnapshot) -> None:
    """Each insured region's pooling region; a person-year's accumulators must belong to it."""
    regions = [r for (r,) in con.execute("SELECT DISTINCT insured_region FROM keyed").fetchall()]
    codes = [snapshot.tree.pooling_region(r, "insuplc_admdvs").code for r in regions]
    con.register("pooling", pa.table({"insured_region": regions, "pooling": codes}))
    wrong = con.execute("""SELECT p.region, g.pooling FROM keyed k JOIN pooling g USING (insured_region)
                           JOIN persons p ON p.person_id = k.person_id AND p.year = k.year
                           WHERE p.region <> g.pooling ORDER BY k.idx LIMIT 1""").fetchone()
    if wrong:
        raise InputError("state.region", f"累计数据属于统筹区 {wrong[0]}，本次结算统筹区为 {wrong[1]}")


def _key_info(terms: TermsTable) -> pa.Table:
    cols = terms.cols
    return pa.table(
        {
            "key": np.arange(len(terms.rows)),
            "catalog": cols["policy"],
            "default_b": [None if b < 0 else int(b) for b in cols["default_b"]],
            "pool_code": [pooled_fund_code("employee" if e else "resident") for e in cols["employee"]],
            "pool_setl": [SETLINFO_FIELD[pooled_fund_code("employee" if e else "resident")] for e in cols["employee"]],
            "ci_setl": list(cols["ci_setl"]),
            "ci_code": list(cols["ci_code"]),
        }
    )


def settle_vectorised(con: duckdb.DuckDBPyConnection, snapshot: PolicySnapshot, keep_lines: bool = False) -> VectorRun:
    """Settle every claim of ``con``'s tables; results and closing accumulators in the scalar files' columns."""
    _rule_dates(con, snapshot)
    _persons(con)
    terms, policies = _keys(con, snapshot)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE keyed AS SELECT j.*, k.key
        FROM joined j JOIN policy_at USING (insured_region, rule_date) JOIN combo k USING (p, {", ".join(_CONTEXT)})""")
    _reversals(con)
    _pooling(con, snapshot)
    con.register("key_info", _key_info(terms))
    catalogs = {i: p.catalog for i, p in enumerate(policies)}
    load_catalogs(con, *catalog_tables(catalogs))
    con.execute("""CREATE OR REPLACE TEMP TABLE ctx AS
        SELECT k.claim_id, i.catalog, k.person_type, k.sex, k.age, k.visit_type, k.level, i.default_b
        FROM keyed k JOIN key_info i USING (key) WHERE k.reverses IS NULL""")
    try:
        run_split(con, keep_lines)
    except NoPolicyInForce as e:
        raise NoPolicyInForce("", "", e.path) from None
    _chronic_slots(con)
    arrays = con.execute("""
        SELECT k.key, dense_rank() OVER (ORDER BY k.person_id, k.year) - 1 AS g,
               row_number() OVER (PARTITION BY k.person_id, k.year ORDER BY k.idx) - 1 AS rank,
               k.level, coalesce(k.transfer_from, -1) AS transfer_from, k.day_surgery, k.waiting,
               k.account_use, k.mutual_aid_balance, k.cap_raise, coalesce(o.idx, -1) AS orig,
               coalesce(s.total, 0) AS total, coalesce(s.full_self_pay, 0) AS full_self_pay,
               coalesce(s.over_limit, 0) AS over_limit, coalesce(s.self_pay_first, 0) AS self_pay_first,
               coalesce(s.policy_range, 0) AS policy_range, coalesce(cs.slot, -1) AS slot, k.disease
        FROM keyed k LEFT JOIN claim_split s USING (claim_id) LEFT JOIN keyed o ON o.claim_id = k.reverses
        LEFT JOIN chronic_slot cs ON cs.person_id = k.person_id AND cs.year = k.year AND cs.disease = k.disease
             AND k.visit_type = 'chronic'
        ORDER BY k.idx""").fetchnumpy()
    C: dict[str, Any] = {name: np.asarray(v) for name, v in arrays.items()}
    for name in ("day_surgery", "waiting"):
        C[name] = C[name].astype(bool)
    for name in set(C) - {"day_surgery", "waiting", "disease"}:
        C[name] = C[name].astype(np.int64)
    S = _opening(con)
    CH = {name: np.asarray(v, dtype=np.int64) for name, v in
          con.execute("SELECT deductible_paid, paid FROM chronic_slot ORDER BY slot").fetchnumpy().items()}  # fmt: skip
    chain = Chain(C, terms, S, CH)
    chain.run()
    _results(con, chain, terms, snapshot)
    _closing(con, chain)
    return VectorRun(con, terms)


def _chronic_slots(con: duckdb.DuckDBPyConnection) -> None:
    """One slot per person-year × disease with chronic claims or opening chronic accumulators."""
    opening = []
    for person, year, text in con.execute("SELECT person_id, year, chronic FROM persons "
                                          "WHERE chronic IS NOT NULL AND chronic <> '{}'").fetchall():  # fmt: skip
        for disease, slot in json.loads(text).items():
            opening.append((person, year, disease, slot.get("deductible_paid", 0), slot.get("paid", 0)))
    con.register("opening_chronic", pa.table({
        name: pa.array([o[i] for o in opening], type=t) for i, (name, t) in enumerate(
            (("person_id", pa.string()), ("year", pa.int64()), ("disease", pa.string()),
             ("deductible_paid", pa.int64()), ("paid", pa.int64())))}))  # fmt: skip
    con.execute("""CREATE OR REPLACE TEMP TABLE chronic_slot AS
        SELECT row_number() OVER (ORDER BY person_id, year, disease) - 1 AS slot, person_id, year, disease,
               coalesce(o.deductible_paid, 0) AS deductible_paid, coalesce(o.paid, 0) AS paid
        FROM (SELECT DISTINCT person_id, year, disease FROM keyed WHERE visit_type = 'chronic'
              UNION SELECT person_id, year, disease FROM opening_chronic) s
        LEFT JOIN opening_chronic o USING (person_id, year, disease)""")


def _opening(con: duckdb.DuckDBPyConnection) -> dict[str, np.ndarray]:
    found = con.execute(f"""SELECT {", ".join(f"p.{n}" for n in STATE)}
        FROM (SELECT DISTINCT person_id, year FROM keyed) k JOIN persons p USING (person_id, year)
        ORDER BY k.person_id, k.year""").fetchnumpy()
    return {name: np.asarray(v, dtype=np.int64).copy() for name, v in found.items()}


_SETL = ("hifp_pay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay")


def _setl_sql() -> str:
    fixed = {LARGE_EXPENSE: "r.large", ASSISTANCE: "r.aid", TILTED_ASSISTANCE: "r.tilted"}
    cols = []
    for field in _SETL:
        parts = [f"CASE WHEN i.pool_setl = '{field}' THEN r.pooled ELSE 0 END",
                 f"CASE WHEN i.ci_setl = '{field}' THEN r.ci ELSE 0 END"]  # fmt: skip
        parts += [col for code, col in fixed.items() if SETLINFO_FIELD.get(code, "oth_pay") == field]
        cols.append(f"({' + '.join(parts)}) AS setl_{field}")
    return ", ".join(cols)


def _results(con: duckdb.DuckDBPyConnection, chain: Chain, terms: TermsTable, snapshot: PolicySnapshot) -> None:
    C, res_ = chain.C, chain.res
    rev = C["orig"] >= 0
    res: dict[str, Any] = {"idx": np.arange(len(rev))}
    for name in ("total", "full_self_pay", "over_limit", "self_pay_first", "policy_range"):
        v = C[name].copy()
        v[rev] = -C[name][C["orig"][rev]]
        res[name] = v
    res |= {k: res_[k] for k in ("ded", "pooled", "ratio", "large", "ci", "aid", "tilted", "fund", "burden", "acct",
                              "mutual", "cash", "balance", "mask")}  # fmt: skip
    res["cap_hit"] = chain.cap_hit
    res["reversal"] = rev
    res["waiting"] = C["waiting"] & ~rev
    con.register("res", pa.table(res))
    masks = sorted({int(m) for m in np.unique(res_["mask"])})
    con.register("masks", pa.table({"mask": pa.array(masks, pa.int64()),
                                    "exc": [",".join(terms.reasons(m)) or None for m in masks]}))  # fmt: skip
    con.execute("SET VARIABLE snapshot_id = ?", [snapshot.id])
    con.execute(f"""CREATE OR REPLACE TABLE results AS
        SELECT r.idx, k.claim_id, k.person_id, rg.pooling AS region, k.scheme, k.person_type, k.assistance_category,
               coalesce(o.visit_type, k.visit_type) AS visit_type, k.level::BIGINT AS hospital_level,
               strftime(coalesce(o.rule_date, k.rule_date), '%Y-%m-%d') AS rule_date,
               coalesce(o.year, k.year)::BIGINT AS year, k.reverses, getvariable('snapshot_id') AS snapshot_id,
               r.total, r.full_self_pay, r.over_limit, r.self_pay_first, r.policy_range, r.ded AS deductible_paid,
               r.fund AS fund_pay_total, r.burden AS personal_burden, r.acct AS account_pay,
               r.mutual AS mutual_aid_pay, r.cash AS cash_pay, 0::BIGINT AS hospital_burden, r.ratio AS pooled_ratio,
               {_setl_sql()}, r.cash AS setl_psn_cash_pay, r.mutual AS setl_acct_mulaid_pay,
               0::BIGINT AS setl_hifdm_pay,
               concat_ws(';', CASE WHEN r.pooled <> 0 THEN i.pool_code || ':' || r.pooled END,
                              CASE WHEN r.large <> 0 THEN '{LARGE_EXPENSE}:' || r.large END,
                              CASE WHEN r.ci <> 0 THEN i.ci_code || ':' || r.ci END,
                              CASE WHEN r.aid <> 0 THEN '{ASSISTANCE}:' || r.aid END,
                              CASE WHEN r.tilted <> 0 THEN '{TILTED_ASSISTANCE}:' || r.tilted END,
                              CASE WHEN r.acct + r.mutual <> 0 THEN '{ACCOUNT}:' || (r.acct + r.mutual) END)
                 AS details,
               CASE WHEN r.reversal THEN 'REVERSAL' ELSE
                 concat_ws(',', CASE WHEN r.waiting THEN 'WAITING' END, CASE WHEN r.cap_hit THEN 'CAP-POOL' END,
                           m.exc) END AS reasons
        FROM res r JOIN keyed k ON k.idx = r.idx LEFT JOIN keyed o ON o.claim_id = k.reverses
        JOIN key_info i ON i.key = coalesce(o.key, k.key) LEFT JOIN masks m ON m.mask = r.mask
        JOIN pooling rg ON rg.insured_region = coalesce(o.insured_region, k.insured_region)""")


def _closing(con: duckdb.DuckDBPyConnection, chain: Chain) -> None:
    """Every person-year's closing accumulators (the opening ones where it had no claims)."""
    ids = con.execute("SELECT DISTINCT person_id, year FROM keyed ORDER BY person_id, year").fetchnumpy()
    final: dict[str, Any] = {"person_id": ids["person_id"], "year": np.asarray(ids["year"], dtype=np.int64)}
    final |= chain.S
    slots = con.execute("SELECT person_id, year, disease FROM chronic_slot ORDER BY slot").fetchall()
    chronic: dict[tuple[str, int], dict[str, dict[str, int]]] = {}
    for (person, year, disease), d, p in zip(slots, chain.CH["deductible_paid"], chain.CH["paid"], strict=True):
        if d or p:
            chronic.setdefault((person, year), {})[disease] = {"deductible_paid": int(d), "paid": int(p)}
    con.register("final_state", pa.table(final))
    con.register("final_chronic", pa.table({
        "person_id": [k[0] for k in chronic], "year": pa.array([k[1] for k in chronic], pa.int64()),
        "chronic": [json.dumps(v, sort_keys=True) for v in chronic.values()]}))  # fmt: skip
    counters = ", ".join(f"coalesce(f.{n}, p.{n})::BIGINT AS {n}" for n in STATE)
    con.execute(f"""CREATE OR REPLACE TABLE closing AS
        SELECT p.person_id, p.scheme, p.region, p.year::BIGINT AS year, {counters},
               CASE WHEN f.person_id IS NULL THEN coalesce(p.chronic, '{{}}') ELSE coalesce(c.chronic, '{{}}') END
                 AS chronic
        FROM persons p LEFT JOIN final_state f USING (person_id, year) LEFT JOIN final_chronic c USING (person_id, year)
        ORDER BY p.person_id, p.year""")

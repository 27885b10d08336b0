"""The vectorised batch executor (``yibao batch settle --engine duckdb``).

Input: a DuckDB connection holding the normalised tables ``claims`` (one row per claim, ``_row`` its
row in the file; settlement order is person, settlement date, ``_row``), ``lines`` and ``persons``
(ordered by person and year) — :mod:`yibao.batch.vector_input` makes them from claims already read,
:mod:`yibao.batch.vector_files` from files. The plan:

1. contexts (SQL + one scalar lookup per distinct value): each claim's rule date, policy in force,
   person-year, waiting period, rule-context projection → a key into the terms table
   (:mod:`yibao.batch.vector_terms`);
2. the fee split of every line and the claim totals (one SQL query, :mod:`yibao.batch.vector_split`);
3. the calculation chain on arrays (:mod:`yibao.batch.vector_chain`);
4. results and closing accumulators side by side with the claims and persons they belong to
   (:mod:`yibao.batch.vector_output`), in the columns of the scalar executor's files.

Integer keys do the joining wherever the data allows: a claim's place in settlement order (``idx``,
the row of a narrow sorted table), its person-year (the row of ``persons``), its context (a hash).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from yibao.batch.vector_chain import Chain
from yibao.batch.vector_claims import claims_in_order
from yibao.batch.vector_files import check_line_claims
from yibao.batch.vector_output import (
    chronic_slots,
    closing,
    context_enums,
    opening,
    results,
)
from yibao.batch.vector_split import catalog_tables, load_catalogs, run_split
from yibao.batch.vector_terms import TermsTable, build_row
from yibao.engine.result import (
    SETLINFO_FIELD,
    pooled_fund_code,
)
from yibao.engine.settle import area_of
from yibao.errors import InputError, NoPolicyInForce, YibaoError
from yibao.policy.context import RuleContext
from yibao.policy.resolved import ResolvedPolicy
from yibao.policy.snapshot import PolicySnapshot

_LEVELS = ("level_0", "level_1", "level_2", "level_3")


@dataclass
class VectorRun:
    """The run's ``results`` and ``closing`` views, in ``con``, in settlement and person-year order."""

    con: duckdb.DuckDBPyConnection
    terms: TermsTable
    chain: Chain

    @property
    def results(self) -> pa.Table:
        return self.con.sql("SELECT * FROM results").to_arrow_table()

    @property
    def accumulators(self) -> pa.Table:
        return self.con.sql("SELECT * FROM closing").to_arrow_table()

    def summary(self) -> tuple[int, int, int]:
        """Claims settled, fund payment and personal burden (fen), from the chain's arrays."""
        res = self.chain.res
        return len(res["fund"]), int(res["fund"].sum()), int(res["burden"].sum())

    def write(self, out: Path) -> None:
        """``results.parquet`` and ``accumulators.parquet``, streamed by DuckDB in their order."""
        out.mkdir(parents=True, exist_ok=True)
        for view, name in (("results", "results"), ("closing", "accumulators")):
            target = str(out / f"{name}.parquet").replace("'", "''")
            self.con.execute(f"COPY {view} TO '{target}' (FORMAT parquet)")


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
    con.execute("""CREATE OR REPLACE TEMP VIEW dated AS
        SELECT c.*, CASE WHEN c.visit_type <> 'inpatient' OR b.basis = 'settlement' THEN c.settlement_date
                         WHEN b.basis = 'discharge' THEN c.discharge_date ELSE c.admission_date END AS rule_date,
               coalesce(b.basis, '') AS basis
        FROM claims c LEFT JOIN rule_basis b USING (insured_region, settlement_date)""")
    missing = con.execute(
        "SELECT claim_id, basis FROM dated WHERE rule_date IS NULL ORDER BY person_id, settlement_date, _row LIMIT 1"
    ).fetchone()
    if missing:
        field = "dscg_date" if missing[1] == "discharge" else "adm_date"
        raise InputError(field, f"理赔 {missing[0]}：住院结算必须给出该日期（本统筹区按此日期确定适用政策）")


def _policies(con: duckdb.DuckDBPyConnection, snapshot: PolicySnapshot) -> list[ResolvedPolicy]:
    """``policy_at``: the policy in force (an index into the returned list) per insured region and rule date."""
    policies: list[ResolvedPolicy] = []
    at: list[tuple[str, date, int]] = []
    for region, day in con.execute("SELECT DISTINCT insured_region, rule_date FROM dated").fetchall():
        policy = snapshot.at(region, day, "insuplc_admdvs")
        if all(p is not policy for p in policies):
            policies.append(policy)
        at.append((region, day, next(i for i, p in enumerate(policies) if p is policy)))
    con.register("policy_at", pa.table({"insured_region": [a[0] for a in at], "rule_date": pa.array([a[1] for a in at], pa.date32()),
                                        "p": pa.array([a[2] for a in at], pa.int64())}))  # fmt: skip
    return policies


#: the claim and person columns a rule context is made of (:class:`RuleContext`)
_CONTEXT = ("insured_region", "treatment_region", "scheme", "person_type", "assistance_category", "age", "sex",
            "visit_type", "level", "filed", "day_surgery", "disease", "civil_servant")  # fmt: skip


def _persons(con: duckdb.DuckDBPyConnection) -> None:
    """``joined``: each claim with its person-year (``g``, the row of ``persons``), policy ``p`` and
    ``h``, a hash of (policy, rule context) that :func:`_keys` proves free of collisions."""
    # settlement order sorted on three narrow columns, not on the wide rows: its row number is the idx
    con.execute(
        "CREATE OR REPLACE TEMP TABLE settle_order AS SELECT _row FROM claims ORDER BY person_id, settlement_date, _row"
    )
    con.execute(f"""CREATE OR REPLACE TEMP TABLE joined AS
        SELECT *, hash(p, {", ".join(_CONTEXT)}) AS h FROM (
        SELECT o.rowid AS idx, d.* EXCLUDE (settlement_date, admission_date, discharge_date, basis), a.p,
               year(d.rule_date) AS year, p.scheme, p.person_type, p.age, p.sex, p.assistance_category,
               p.civil_servant, p.cap_raise, p.region AS state_region, p.rowid AS g,
               p.benefits_from IS NOT NULL AND
                 (CASE WHEN d.visit_type = 'inpatient' AND d.admission_date IS NOT NULL THEN d.admission_date
                       ELSE d.settlement_date END) < p.benefits_from AS waiting
        FROM dated d JOIN settle_order o USING (_row) JOIN policy_at a USING (insured_region, rule_date)
        LEFT JOIN persons p ON p.person_id = d.person_id AND p.year = year(d.rule_date))""")
    # joined carries every column of claims that later stages read (the dates are read once, here): the
    # claims table goes, and its memory with it (at 170 M fee lines a gigabyte or two that the chain
    # and the results need)
    con.execute("DROP VIEW dated; DROP TABLE settle_order; DROP TABLE claims")
    lost = con.execute("SELECT claim_id, person_id, year FROM joined WHERE g IS NULL ORDER BY idx LIMIT 1").fetchone()
    if lost:
        raise InputError("persons", f"理赔 {lost[0]}：人员 {lost[1]} 缺少 {lost[2]} 年的参保状态与期初累计")


def _keys(con: duckdb.DuckDBPyConnection, snapshot: PolicySnapshot, policies: list[ResolvedPolicy]) -> TermsTable:
    """A key per claim: the policy in force and the projection of its rule context, as ``settle`` finds them.

    The rule date matters only through the policy in force (the scalar engine shares terms per
    policy and projection too), so contexts are gathered per policy, not per day: a few thousand
    distinct contexts for a city-year, however many days it spans. ``keyed`` is ``joined`` with
    the key, found through the context hash ``h`` (one integer join, not fourteen columns)."""
    areas = {(r, t): area_of(snapshot.tree.pooling_region(r, "insuplc_admdvs"), t)
             for r, t in con.execute("SELECT DISTINCT insured_region, treatment_region FROM joined").fetchall()}  # fmt: skip
    table = TermsTable()
    keys: dict[tuple[object, ...], int] = {}
    combos: dict[int, int] = {}
    for row in con.execute(f"""SELECT h, p, {", ".join(_CONTEXT)}, min(rule_date) FROM joined
                               GROUP BY ALL""").fetchall():  # fmt: skip
        h, p, region, treated, scheme, ptype, cat, age, sex, visit, level, filed, day_surgery, disease, civil, day = row
        if h in combos:  # two contexts share a hash: the key join would be ambiguous
            raise RuntimeError(f"context hash collision ({h}); settle this batch with --engine scalar")
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
        combos[h] = k
    table.freeze()
    con.register("combo", pa.table({"h": pa.array(list(combos), pa.uint64()),
                                    "key": pa.array(list(combos.values()), pa.int64())}))  # fmt: skip
    con.execute("CREATE OR REPLACE TEMP VIEW keyed AS SELECT j.*, c.key FROM joined j JOIN combo c USING (h)")
    return table


def _reversals(con: duckdb.DuckDBPyConnection) -> None:
    """``reversal``: each reversal row (``ridx``) with the claim it names (in ``keyed``'s columns).
    It must name an earlier claim of the same person-year, not reversed before, not itself a reversal."""
    con.execute("""CREATE OR REPLACE TEMP TABLE reversal AS
        SELECT r.idx AS ridx, r.claim_id AS r_claim, r.reverses AS r_reverses, r.person_id AS r_person,
               r.year AS r_year, r.nth, o.idx, o.reverses, o.person_id, o.year, o.visit_type, o.rule_date, o.key,
               o.insured_region
        FROM (SELECT idx, claim_id, reverses, person_id, year,
                     row_number() OVER (PARTITION BY reverses ORDER BY idx) AS nth
              FROM keyed WHERE reverses IS NOT NULL) r
        LEFT JOIN keyed o ON o.claim_id = r.reverses""")
    bad = con.execute("""
        SELECT r_claim, r_reverses, idx IS NULL OR idx > ridx AS missing, nth > 1 AS twice,
               reverses IS NOT NULL AS of_reversal, person_id <> r_person AS other_person, year, r_year
        FROM reversal
        WHERE idx IS NULL OR idx > ridx OR nth > 1 OR reverses IS NOT NULL OR person_id <> r_person OR year <> r_year
        ORDER BY ridx LIMIT 1""").fetchone()
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
    regions = [r for (r,) in con.execute("SELECT DISTINCT insured_region FROM joined").fetchall()]
    codes = [snapshot.tree.pooling_region(r, "insuplc_admdvs").code for r in regions]
    con.register(
        "pooling", pa.table({"insured_region": pa.array(regions, pa.string()), "pooling": pa.array(codes, pa.string())})
    )
    wrong = con.execute("""SELECT k.state_region, g.pooling FROM joined k JOIN pooling g USING (insured_region)
                           WHERE k.state_region <> g.pooling ORDER BY k.idx LIMIT 1""").fetchone()
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


@contextmanager
def _small_pages() -> Iterator[None]:
    """NumPy without ``madvise(MADV_HUGEPAGE)`` on its large arrays while the executor runs.

    NumPy asks for transparent huge pages by default; where the kernel defragments for such
    requests (``defrag = madvise``, the common default) every fault of the chain's per-round
    temporaries can stall in memory compaction. Measured at 170 M fee lines on this 2-vCPU VM:
    the chain's system time 6.1 → 1.9 s, its wall time 7.0 → 5.0 s (docs/benchmarks.md). NumPy
    documents the switch (``NUMPY_MADVISE_HUGEPAGE``); the function is its run-time form, absent
    from NumPy builds without it, in which case nothing changes."""
    switch = getattr(getattr(getattr(np, "_core", None), "multiarray", None), "_set_madvise_hugepage", None)
    before = switch(False) if switch is not None else None
    try:
        yield
    finally:
        if switch is not None:
            switch(bool(before))


def settle_vectorised(con: duckdb.DuckDBPyConnection, snapshot: PolicySnapshot, keep_lines: bool = False) -> VectorRun:
    """Settle every claim of ``con``'s tables; results and closing accumulators in the scalar files' columns.

    ``persons`` must be ordered by (person_id, year): its row number is the person-year's index into
    the state arrays, and the closing accumulators come out in that order without a sort."""
    with _small_pages():
        return _settle(con, snapshot, keep_lines)


def _settle(con: duckdb.DuckDBPyConnection, snapshot: PolicySnapshot, keep_lines: bool) -> VectorRun:
    try:
        terms = _split(con, snapshot, keep_lines)
    except YibaoError:
        check_line_claims(con)  # a refusal of the files comes first, as reading them in full makes it
        raise
    chronic_slots(con)
    context_enums(con)
    C, claims = claims_in_order(con)
    # what was read is not needed again: its memory goes before the chain's arrays and the results
    # are made (``line_split`` stays where lines are kept)
    con.execute("DROP VIEW keyed; DROP TABLE joined; DROP TABLE ctx; DROP TABLE claim_split; DROP TABLE reversal")
    S = opening(con)
    CH = {name: np.asarray(v, dtype=np.int64) for name, v in
          con.execute("SELECT deductible_paid, paid FROM chronic_slot ORDER BY slot").fetchnumpy().items()}  # fmt: skip
    chain = Chain(C, terms, S, CH)
    ((threads,),) = con.execute("SELECT current_setting('threads')").fetchall()
    chain.run(int(threads))  # as many threads as DuckDB may use (a Spark task: its cores)
    results(con, claims, chain, terms, snapshot.id)
    closing(con, chain)
    return VectorRun(con, terms, chain)


def _split(con: duckdb.DuckDBPyConnection, snapshot: PolicySnapshot, keep_lines: bool) -> TermsTable:
    """Contexts, keys and the fee split (``claim_split``); the terms table the keys index."""
    _rule_dates(con, snapshot)
    policies = _policies(con, snapshot)
    _persons(con)
    terms = _keys(con, snapshot, policies)
    _reversals(con)
    _pooling(con, snapshot)
    con.register("key_info", _key_info(terms))
    catalogs = {i: p.catalog for i, p in enumerate(policies)}
    load_catalogs(con, *catalog_tables(catalogs))
    con.execute("""CREATE OR REPLACE TEMP TABLE ctx AS
        SELECT k.claim_id, k.idx, i.catalog, k.person_type, k.sex, k.age, k.visit_type, k.level, i.default_b
        FROM keyed k JOIN key_info i USING (key) WHERE k.reverses IS NULL""")
    try:
        run_split(con, keep_lines)
    except NoPolicyInForce as e:
        raise NoPolicyInForce("", "", e.path) from None
    return terms

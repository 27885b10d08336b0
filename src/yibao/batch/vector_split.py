"""The vectorised executor's first stage: every fee line's split (费用分割) in one DuckDB query.

The same rule as :mod:`yibao.engine.fee_split`, on columns: 丙类 or a failed restriction → all
full self-pay; over-limit = amount − round_half_up(payment standard × quantity) when the price is
above the standard, clipped to the amount; self-pay-first = round_half_up((amount − over-limit) ×
ratio / 10000) for 乙类 (the person type's own ratio, else the item's, else the policy default);
policy range the rest. Integer fen and exact DECIMAL(38, 12) prices and quantities, so the
differential test compares with zero tolerance.

What stays per claim, computed once per distinct policy context by the scalar code (so there is
one definition of which policy applies): the catalogue in force (by resolved policy) and the
policy's default 乙类 ratio. A context table carries them to the query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import duckdb
import pyarrow as pa

from yibao.batch.vector_files import VISITS, check_line_claims
from yibao.engine.model import Person
from yibao.engine.settle import area_of, context_of, rule_date_of
from yibao.engine.terms import terms_for
from yibao.errors import InputError, NoPolicyInForce
from yibao.io.batch_files import BatchClaim, BatchPerson
from yibao.policy.catalog import CatalogItem
from yibao.policy.resolved import ResolvedPolicy
from yibao.policy.snapshot import PolicySnapshot

#: restriction failures as small integers in the query (text only where lines are kept)
REASONS = ("", "R-sex", "R-age", "R-visit", "R-level", "R-indication")


_REASON_TEXT = "CASE reason " + " ".join(f"WHEN {i} THEN '{r}'" for i, r in enumerate(REASONS)) + " END"


#: visit types as bits: an item's allowed visit types one integer, a line's check one AND (not a
#: list search per line); ``restricted`` says whether an item has any restriction to check at all
_VISIT_BIT = "CASE visit_type " + " ".join(f"WHEN '{v}' THEN {1 << i}" for i, v in enumerate(VISITS)) + " ELSE 0 END"
_VISIT_MASK = (
    "CASE WHEN a.visit_types IS NULL THEN NULL ELSE 0 "
    + "".join(
        f"+ CASE WHEN list_contains(string_split(a.visit_types, ';'), '{v}') THEN {1 << i} ELSE 0 END "
        for i, v in enumerate(VISITS)
    )
    + "END"
)


def split_sql(types: Sequence[str] = ()) -> str:
    """The split of every line of ``lines`` (joined to its claim's ``ctx``); ``types``: the person types
    some item has its own 乙类 ratio for (``items.r_<type>``, :func:`load_catalogs`)."""
    by_type = " ".join(f"WHEN {_literal(t)} THEN i.{_ratio_column(t)}" for t in types)
    ratio = (
        f"coalesce(CASE c.person_type {by_type} END, i.spf_ratio, c.default_b)"
        if types
        else "coalesce(i.spf_ratio, c.default_b)"
    )
    return f"""
WITH j AS (
    SELECT l.claim_id, c.idx, l.position, l.amount, l.price, l.quantity, l.indication_met,
           i.code IS NULL AND l.declared_class IS NULL AS missing,
           coalesce(i.item_class, l.declared_class) AS cls,
           i.payment_standard AS cap,
           CASE
             WHEN i.code IS NULL OR NOT i.restricted THEN 0
             WHEN i.sex IS NOT NULL AND i.sex <> c.sex THEN 1
             WHEN i.age_min IS NOT NULL AND c.age < i.age_min THEN 2
             WHEN i.age_max IS NOT NULL AND c.age > i.age_max THEN 2
             WHEN i.visit_mask IS NOT NULL AND i.visit_mask & c.visit_bit = 0 THEN 3
             WHEN i.min_level IS NOT NULL AND c.level < i.min_level THEN 4
             WHEN i.indication_required AND NOT l.indication_met THEN 5
             ELSE 0
           END AS reason,
           CASE WHEN coalesce(i.item_class, l.declared_class) <> 2 THEN 0 ELSE {ratio} END AS ratio
    FROM lines l
    LEFT JOIN (SELECT *, {_VISIT_BIT} AS visit_bit FROM ctx) c USING (claim_id)  -- no claim: idx NULL (run_split)
    LEFT JOIN items i ON i.catalog = c.catalog AND i.code = l.item_code
), o AS (
    SELECT *, cls = 3 OR reason <> 0 AS excluded,
           CASE WHEN cap IS NOT NULL AND price > cap THEN
             CASE WHEN amount >= 0
                  THEN least(greatest(amount - CAST(round(cap * quantity * 100) AS BIGINT), 0), amount)
                  ELSE greatest(least(amount - CAST(round(cap * quantity * 100) AS BIGINT), 0), amount) END
           ELSE 0 END AS ol
    FROM j
), s AS (
    SELECT claim_id, idx, position, amount, cls, reason, excluded, ratio, missing,
           CASE WHEN excluded THEN 0 ELSE ol END AS over_limit,
           CASE WHEN excluded OR ratio = 0 THEN 0
                WHEN amount - ol >= 0 THEN ((amount - ol) * ratio + 5000) // 10000
                ELSE -(((ol - amount) * ratio + 5000) // 10000) END AS self_pay_first  -- half away from zero
    FROM o
)
SELECT claim_id, idx, position, cls, reason, ratio, amount, missing, cls = 2 AND ratio IS NULL AS no_default,
       CASE WHEN excluded THEN amount ELSE 0 END AS full_self_pay,
       over_limit, self_pay_first,
       CASE WHEN excluded THEN 0 ELSE amount - over_limit - self_pay_first END AS policy_range
FROM s
"""


def split_context(
    bc: BatchClaim, persons: Mapping[tuple[str, int], BatchPerson], snapshot: PolicySnapshot
) -> tuple[Person, ResolvedPolicy, int | None]:
    """What a claim's fee split depends on besides its lines, as :func:`yibao.engine.settle` finds it:
    the person's status that year, the policy in force on the rule date (its catalogue) and the
    policy's default 乙类 self-pay-first ratio (``None`` when the policy sets none)."""
    claim = bc.claim
    on = rule_date_of(claim, snapshot)
    who = persons[(bc.person_id, on.year)].person
    pooling = snapshot.tree.pooling_region(claim.insured_region, "insuplc_admdvs")
    policy = snapshot.at(claim.insured_region, on, "insuplc_admdvs")
    terms = terms_for(policy, context_of(claim, who, area_of(pooling, claim.treatment_region)), on)
    path = f"{who.scheme}.fee_split.class_b_self_pay_first_ratio"
    return who, policy, terms.ratio(path) if terms.has(path) else None


def _tables(
    claims: Sequence[BatchClaim], persons: dict[tuple[str, int], BatchPerson], snapshot: PolicySnapshot
) -> tuple[pa.Table, pa.Table, pa.Table, pa.Table]:
    lines: dict[str, list[object]] = {k: [] for k in ("claim_id", "position", "item_code", "amount", "price",
                                                      "quantity", "declared_class", "indication_met")}  # fmt: skip
    ctx: dict[str, list[object]] = {k: [] for k in ("claim_id", "idx", "catalog", "person_type", "sex", "age", "visit_type",
                                                    "level", "default_b")}  # fmt: skip
    catalogs: dict[int, Mapping[str, CatalogItem]] = {}
    for bc in claims:
        claim = bc.claim
        if bc.reverses is not None or claim.fee_lines is None:
            continue
        who, policy, default_b = split_context(bc, persons, snapshot)
        catalogs.setdefault(id(policy.catalog), policy.catalog)
        for k, v in (("claim_id", claim.claim_id), ("idx", len(ctx["idx"])), ("catalog", id(policy.catalog)), ("person_type", who.person_type),
                     ("sex", who.sex), ("age", who.age), ("visit_type", claim.visit_type),
                     ("level", claim.hospital_level), ("default_b", default_b)):  # fmt: skip
            ctx[k].append(v)
        for i, line in enumerate(claim.fee_lines):
            for k, v in (("claim_id", claim.claim_id), ("position", i), ("item_code", line.item_code),
                         ("amount", line.amount), ("price", str(line.price)), ("quantity", str(line.quantity)),
                         ("declared_class", line.declared_class), ("indication_met", line.indication_met)):  # fmt: skip
                lines[k].append(v)
    items, by_type = catalog_tables(catalogs)
    return pa.table(lines), pa.table(ctx), items, by_type


def catalog_tables(catalogs: Mapping[int, Mapping[str, CatalogItem]]) -> tuple[pa.Table, pa.Table]:
    """The catalogues in force as two tables: ``items`` (one row per catalogue × item) and
    ``by_type`` (an item's 乙类 ratio per person type), ``catalog`` the key each claim refers to."""
    items: dict[str, list[object]] = {k: [] for k in ("catalog", "code", "item_class", "spf_ratio", "payment_standard",
                                                      "sex", "age_min", "age_max", "visit_types", "min_level",
                                                      "indication_required")}  # fmt: skip
    by_type: dict[str, list[object]] = {"catalog": [], "code": [], "person_type": [], "ratio": []}
    for key, catalog in catalogs.items():
        for code, item in catalog.items():
            for k, v in (("catalog", key), ("code", code), ("item_class", item.item_class),
                         ("spf_ratio", item.self_pay_first_ratio),
                         ("payment_standard", None if item.payment_standard is None else str(item.payment_standard)),
                         ("sex", item.sex), ("age_min", item.age_min), ("age_max", item.age_max),
                         ("visit_types", ";".join(sorted(item.visit_types)) if item.visit_types else None),
                         ("min_level", item.min_hospital_level), ("indication_required", item.indication_required)):  # fmt: skip
                items[k].append(v)
            for person_type, ratio in item.ratio_by_person_type:
                for k, v in (("catalog", key), ("code", code), ("person_type", person_type), ("ratio", ratio)):
                    by_type[k].append(v)
    return pa.table(items), pa.table(by_type)


def _ratio_column(person_type: str) -> str:
    """The quoted column of ``items`` holding an item's 乙类 ratio for ``person_type`` (a catalogue's own text)."""
    return '"r_' + person_type.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def load_catalogs(con: duckdb.DuckDBPyConnection, items: pa.Table, by_type: pa.Table) -> None:
    """``items``, with an item's 乙类 ratio per person type as one column per type (``r_<type>``): a
    line reads its ratio from its own item row, with no second join per line."""
    con.register("items_arrow", items)
    con.register("by_type", by_type)
    types = sorted({str(t) for t in by_type.column("person_type").to_pylist()})
    pivot = "".join(f", t_{i}.ratio AS {_ratio_column(t)}" for i, t in enumerate(types))
    joins = "".join(f" LEFT JOIN by_type t_{i} ON t_{i}.catalog = a.catalog AND t_{i}.code = a.code "
                    f"AND t_{i}.person_type = {_literal(t)}" for i, t in enumerate(types))  # fmt: skip
    cap = _cap_type([v for v in items.column("payment_standard").to_pylist() if v is not None])
    con.execute(f"""CREATE OR REPLACE TABLE items AS
                    SELECT a.* EXCLUDE (visit_types) REPLACE (CAST(a.payment_standard AS {cap}) AS payment_standard),
                           {_VISIT_MASK} AS visit_mask,
                           a.sex IS NOT NULL OR a.age_min IS NOT NULL OR a.age_max IS NOT NULL
                             OR a.visit_types IS NOT NULL OR a.min_level IS NOT NULL
                             OR coalesce(a.indication_required, FALSE) AS restricted{pivot}
                    FROM items_arrow a{joins}""")


def _cap_type(caps: Sequence[str]) -> str:
    """The narrowest exact type for the payment standards: DECIMAL(18, 4) (a 64-bit integer inside)
    when every cap fits it, which is every real catalogue (caps are yuan with at most 4 decimals).
    ``cap × quantity`` in DECIMAL(38, 12) is 128-bit arithmetic at a scale of 12, measured at 22× the
    time of the same product in DECIMAL(18, 4) over 100 M lines."""
    for text in caps:
        exponent = Decimal(text).as_tuple().exponent
        if not isinstance(exponent, int) or -exponent > 4 or abs(Decimal(text)) >= 10**14:
            return "DECIMAL(38, 12)"
    return "DECIMAL(18, 4)"


def run_split(con: duckdb.DuckDBPyConnection, keep_lines: bool = True) -> None:
    """With ``lines``, ``ctx``, ``items`` and ``by_type`` in ``con``: ``claim_split`` (per claim) and, with
    ``keep_lines``, ``line_split`` (one row per fee line; a city-year's lines are streamed, not kept).
    An item in no catalogue without a declared class is refused, as is a 乙类 line where the policy
    sets no self-pay-first ratio."""
    types = [str(t) for (t,) in con.execute("SELECT DISTINCT person_type FROM by_type ORDER BY 1").fetchall()]
    sums = """idx, sum(amount)::BIGINT AS total, sum(full_self_pay)::BIGINT AS full_self_pay,
              sum(over_limit)::BIGINT AS over_limit, sum(self_pay_first)::BIGINT AS self_pay_first,
              sum(policy_range)::BIGINT AS policy_range, bool_or(missing) AS missing,
              bool_or(no_default) AS no_default"""
    if keep_lines:
        con.execute(f"""CREATE OR REPLACE TABLE line_split AS
            SELECT * REPLACE ({_REASON_TEXT} AS reason) FROM ({split_sql(types)})""")
        con.execute(f"CREATE OR REPLACE TABLE claim_split AS SELECT {sums} FROM line_split GROUP BY idx")
    else:
        con.execute(f"CREATE OR REPLACE TABLE claim_split AS SELECT {sums} FROM ({split_sql(types)}) GROUP BY idx")
    # lines the join could not place (idx NULL: a reversal's lines, or lines of no claim) or a claim
    # left without a total: the file checks that name the row (nothing to do for the lines of reversals)
    ((unplaced, placed),) = con.execute(
        "SELECT count(*) FILTER (WHERE idx IS NULL), count(idx) FROM claim_split"
    ).fetchall()
    ((settleable,),) = con.execute("SELECT count(*) FROM ctx").fetchall()
    if unplaced or placed != settleable:
        check_line_claims(con)
    con.execute("DROP TABLE IF EXISTS unchecked_lines")  # checked in passing
    con.execute("DELETE FROM claim_split WHERE idx IS NULL")
    if keep_lines:
        con.execute("DELETE FROM line_split WHERE idx IS NULL")
    missing = _first(con, "missing")
    if missing:
        code = con.execute("""SELECT l.item_code FROM lines l LEFT JOIN ctx c USING (claim_id)
                              LEFT JOIN items i ON i.catalog = c.catalog AND i.code = l.item_code
                              WHERE l.claim_id = ? AND i.code IS NULL AND l.declared_class IS NULL LIMIT 1""",
                           [missing[0]]).fetchone()  # fmt: skip
        raise InputError(
            "item_code", f"理赔 {missing[0]}：目录中没有项目 {code[0] if code else ''}，且未给出收费项目等级"
        )
    negative = _first(con, "total < 0")
    if negative:
        raise InputError("fee_lines", f"理赔 {negative[0]}：费用总额不能为负；撤销结算请使用冲销")
    no_default = _first(con, "no_default")
    if no_default:
        raise NoPolicyInForce("", "", f"class_b_self_pay_first_ratio（理赔 {no_default[0]}）")


def _first(con: duckdb.DuckDBPyConnection, condition: str) -> tuple[str] | None:
    """The first claim in settlement order whose split meets ``condition`` (as the scalar engine meets it)."""
    found = con.execute(f"SELECT c.claim_id FROM claim_split s JOIN ctx c USING (idx) WHERE s.{condition} "
                        "ORDER BY idx LIMIT 1").fetchone()  # fmt: skip
    return None if found is None else (str(found[0]),)


def split_lines_vectorised(
    claims: Sequence[BatchClaim], persons: dict[tuple[str, int], BatchPerson], snapshot: PolicySnapshot
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection holding ``line_split`` (one row per fee line) and ``claim_split`` (per claim)."""
    lines, ctx, items, by_type = _tables(claims, persons, snapshot)
    con = duckdb.connect()
    con.register("lines_arrow", lines)
    con.register("ctx", ctx)
    load_catalogs(con, items, by_type)
    con.execute("""CREATE TABLE lines AS SELECT claim_id, position, item_code, amount,
                   CAST(price AS DECIMAL(38, 12)) AS price, CAST(quantity AS DECIMAL(38, 12)) AS quantity,
                   declared_class, indication_met FROM lines_arrow""")
    run_split(con)
    return con

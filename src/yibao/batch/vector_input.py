"""The vectorised executor's input tables (``claims``, ``lines``, ``persons`` in a DuckDB connection).

Two ways in, one shape out:

* :func:`tables_from_batch` — claims and persons already read and checked by the scalar readers
  (:mod:`yibao.io.batch_files`), for small runs and for the differential tests, so that both
  executors see exactly the same claims;
* :func:`tables_from_files` (:mod:`yibao.batch.vector_files`) — Parquet read straight into DuckDB with
  the same checks in SQL, for a city-year.

``claims._row`` is the claim's row in its file: settlement order is by person, settlement date, then
``_row``; amounts are integer fen; prices and quantities exact decimals.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import duckdb
import pyarrow as pa

from yibao.batch.vector_chain import STATE
from yibao.io.batch_files import BatchClaim, BatchPerson

CLAIM_TYPES: dict[str, pa.DataType] = {
    "_row": pa.int64(), "claim_id": pa.string(), "person_id": pa.string(), "insured_region": pa.string(),
    "treatment_region": pa.string(), "visit_type": pa.string(), "level": pa.int32(), "settlement_date": pa.date32(),
    "admission_date": pa.date32(), "discharge_date": pa.date32(), "disease": pa.string(), "day_surgery": pa.bool_(),
    "filed": pa.bool_(), "transfer_from": pa.int32(), "account_use": pa.int32(), "mutual_aid_balance": pa.int64(),
    "reverses": pa.string(),
}  # fmt: skip
PERSON_TYPES: dict[str, pa.DataType] = {
    "person_id": pa.string(), "year": pa.int64(), "region": pa.string(), "scheme": pa.string(),
    "person_type": pa.string(), "age": pa.int32(), "sex": pa.string(), "assistance_category": pa.string(),
    "civil_servant": pa.bool_(), "benefits_from": pa.date32(), "cap_raise": pa.int64(),
    **dict.fromkeys(STATE, pa.int64()), "chronic": pa.string(),
}  # fmt: skip


def tables_from_batch(
    con: duckdb.DuckDBPyConnection, claims: Sequence[BatchClaim], persons: Mapping[tuple[str, int], BatchPerson]
) -> None:
    """Load claims (in settlement order, as :func:`yibao.io.batch_files.read_claims` returns them) and persons."""
    rows: dict[str, list[object]] = {k: [] for k in CLAIM_TYPES}
    lines: dict[str, list[object]] = {k: [] for k in ("claim_id", "position", "item_code", "amount", "price",
                                                      "quantity", "declared_class", "indication_met")}  # fmt: skip
    for i, bc in enumerate(claims):
        c = bc.claim
        for k, v in (("_row", i), ("claim_id", c.claim_id), ("person_id", bc.person_id),
                     ("insured_region", c.insured_region), ("treatment_region", c.treatment_region),
                     ("visit_type", c.visit_type), ("level", c.hospital_level), ("settlement_date", c.settlement_date),
                     ("admission_date", c.admission_date), ("discharge_date", c.discharge_date),
                     ("disease", c.disease), ("day_surgery", c.day_surgery), ("filed", c.filed),
                     ("transfer_from", c.transfer_from_level), ("account_use", c.account_use),
                     ("mutual_aid_balance", c.mutual_aid_balance), ("reverses", bc.reverses)):  # fmt: skip
            rows[k].append(v)
        if bc.reverses is None and c.fee_lines is not None:
            for n, x in enumerate(c.fee_lines):
                for k, v in (("claim_id", c.claim_id), ("position", n), ("item_code", x.item_code),
                             ("amount", x.amount), ("price", str(x.price)), ("quantity", str(x.quantity)),
                             ("declared_class", x.declared_class), ("indication_met", x.indication_met)):  # fmt: skip
                    lines[k].append(v)
    people: dict[str, list[object]] = {k: [] for k in PERSON_TYPES}
    for (pid, year), bp in persons.items():
        p, s = bp.person, bp.state
        values = {"person_id": pid, "year": year, "region": s.region, "scheme": p.scheme,
                  "person_type": p.person_type, "age": p.age, "sex": p.sex,
                  "assistance_category": p.assistance_category, "civil_servant": p.civil_servant,
                  "benefits_from": p.benefits_from, "cap_raise": p.critical_illness_cap_raise,
                  **{n: getattr(s, n) for n in STATE}, "chronic": json.dumps(s.chronic, sort_keys=True)}  # fmt: skip
        for k, v in values.items():
            people[k].append(v)
    load(con, pa.table(rows, schema=pa.schema(CLAIM_TYPES)), pa.table(lines),
         pa.table(people, schema=pa.schema(PERSON_TYPES)))  # fmt: skip


def load(con: duckdb.DuckDBPyConnection, claims: pa.Table, lines: pa.Table, persons: pa.Table) -> None:
    """Claims, lines (price and quantity as text or decimal) and persons, as the executor's tables."""
    con.register("claims_in", claims)
    con.register("lines_in", lines)
    con.register("persons_in", persons)
    con.execute("CREATE OR REPLACE TABLE claims AS SELECT * FROM claims_in")
    con.execute("""CREATE OR REPLACE TABLE lines AS SELECT claim_id, position, item_code, amount,
                   CAST(price AS DECIMAL(38, 12)) AS price, CAST(quantity AS DECIMAL(38, 12)) AS quantity,
                   declared_class, indication_met FROM lines_in""")
    con.execute("CREATE OR REPLACE TABLE persons AS SELECT * FROM persons_in ORDER BY person_id, year")
    for name in ("claims_in", "lines_in", "persons_in"):
        con.unregister(name)

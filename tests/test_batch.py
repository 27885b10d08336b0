"""Batch settlement (issue 6, first part): the scalar batch executor over files.

- differential: the synthetic year exported as batch files, read back and settled by
  ``yibao batch settle``'s executor equals the demo's own settlement of the same visits, claim by
  claim and fund by fund, to the fen (the catalogue round-trips through its CSV);
- reversals in the stream: a claim reversed right after it leaves every later claim and the
  closing accumulators exactly as if it had never been settled;
- bad input names the file, the row and the column, and nothing is settled;
- the commands as a user runs them: settle, a policy overlay, compare, explain.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import POLICIES, ROOT
from yibao.batch.export import write_batch_inputs
from yibao.batch.scalar import settle_scalar
from yibao.demo.year import YearRun
from yibao.errors import InputError
from yibao.io.batch_files import read_claims, read_persons
from yibao.io.catalog_files import read_catalog
from yibao.io.policy_dir import load_policy_dir
from yibao.io.settlement_json import setlinfo_fen
from yibao.policy.snapshot import PolicySnapshot
from yibao.sim.catalog import generate_catalog
from yibao.sim.city import CITY, generate_city
from yibao.sim.visits import VisitGenerator

YIBAO = str(Path(sys.executable).parent / "yibao")
SCALE, SEED = Fraction(1, 2000), 5


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("batch-in")
    city = generate_city(SCALE, SEED)
    items, priced = generate_catalog(SEED)
    base = load_policy_dir(POLICIES)
    snapshot = PolicySnapshot(base.tree, base.layers, {**base.catalogs, CITY: items})
    visits = VisitGenerator(city, priced).visits()
    write_batch_inputs(folder, city, visits, snapshot, items)
    return folder, city, visits, snapshot


def test_batch_equals_the_demo_settlement_to_the_fen(year) -> None:
    folder, city, visits, snapshot = year
    reread = PolicySnapshot(snapshot.tree, snapshot.layers,
                            {**snapshot.catalogs, CITY: read_catalog(folder / "catalog.csv", CITY)})  # fmt: skip
    assert reread.id == snapshot.id  # the catalogue file says exactly what the generated one did
    outcome = settle_scalar(read_claims(folder), read_persons(folder / "persons.parquet"), reread)
    demo = YearRun(city, visits, snapshot, lambda _p, _m: 0)  # accounts: opening balance only, as the batch file
    expected = {s.settlement.claim_id: s.settlement for s in demo.settlements()}
    assert len(outcome.settled) == len(expected) > 500
    for _, got, _ in outcome.settled:
        want = expected[got.claim_id]
        assert setlinfo_fen(got) == setlinfo_fen(want), got.claim_id
        assert [(d.fund_code, d.amount) for d in got.details] == [(d.fund_code, d.amount) for d in want.details]
        assert got.reasons == want.reasons
    for (person, _), acc in outcome.closing.items():
        assert acc == demo.accumulators[person]


def _csv(path: Path, rows: list[dict[str, object]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_a_reversal_in_the_stream_undoes_its_claim_exactly(year, tmp_path: Path) -> None:
    folder, _, _, snapshot = year
    claims = pq.read_table(folder / "claims.parquet").to_pylist()
    lines = pq.read_table(folder / "lines.parquet").to_pylist()
    # the person with the most inpatient stays; reverse their first stay right after it
    stays = [c for c in claims if c["visit_type"] == "inpatient"]
    person = max({c["person_id"] for c in stays}, key=lambda p: sum(c["person_id"] == p for c in claims))
    victim = next(c for c in stays if c["person_id"] == person)
    reversal = {**victim, "claim_id": "R-" + victim["claim_id"], "reverses": victim["claim_id"]}
    with_reversal = tmp_path / "with"
    without = tmp_path / "without"
    for d in (with_reversal, without):
        d.mkdir()
    at = claims.index(victim)
    _csv(with_reversal / "claims.csv", [*claims[: at + 1], reversal, *claims[at + 1 :]])
    _csv(with_reversal / "lines.csv", lines)
    _csv(without / "claims.csv", [c for c in claims if c is not victim])
    _csv(without / "lines.csv", [x for x in lines if x["claim_id"] != victim["claim_id"]])
    persons = read_persons(folder / "persons.parquet")
    a = settle_scalar(read_claims(with_reversal), persons, snapshot)
    b = settle_scalar(read_claims(without), persons, snapshot)
    got = {s.claim_id: s for _, s, _ in a.settled}
    assert setlinfo_fen(got["R-" + victim["claim_id"]]) == {
        k: -v for k, v in setlinfo_fen(got[victim["claim_id"]]).items()
    }
    for _, s, _ in b.settled:
        assert setlinfo_fen(got[s.claim_id]) == setlinfo_fen(s)
    assert a.closing == b.closing
    twice = tmp_path / "twice"
    twice.mkdir()
    _csv(twice / "claims.csv", [victim, reversal, {**reversal, "claim_id": "R2"}])
    _csv(twice / "lines.csv", [x for x in lines if x["claim_id"] == victim["claim_id"]])
    with pytest.raises(InputError, match="已被冲正"):
        settle_scalar(read_claims(twice), persons, snapshot)


def _read_both(folder: Path, persons: Path) -> None:
    """Both readers: the scalar one, then the DuckDB one of the vectorised executor."""
    import duckdb

    from yibao.batch.vector_files import tables_from_files

    with pytest.raises(InputError) as scalar:
        read_claims(folder)
    with pytest.raises(InputError) as vector:
        tables_from_files(duckdb.connect(), folder, persons)
    raise InputError(f"{scalar.value.field}|{vector.value.field}", f"{scalar.value.reason}|{vector.value.reason}")


def test_bad_input_names_the_file_row_and_column(year, tmp_path: Path) -> None:
    folder, *_ = year
    claims = pq.read_table(folder / "claims.parquet").to_pylist()[:3]
    lines = [
        x
        for x in pq.read_table(folder / "lines.parquet").to_pylist()
        if x["claim_id"] in {c["claim_id"] for c in claims}
    ]
    bad = tmp_path / "bad"
    bad.mkdir()
    _csv(bad / "claims.csv", claims)
    persons = folder / "persons.parquet"
    _csv(bad / "lines.csv", [*lines[:2], {**lines[2], "price": "abc"}, *lines[3:]])
    with pytest.raises(InputError) as e:
        _read_both(bad, persons)
    assert [f.startswith("lines.csv:4:") for f in e.value.field.split("|")] == [True, True]
    _csv(bad / "lines.csv", lines)
    _csv(bad / "claims.csv", [{**claims[0], "settlement_date": "2020-13-01"}, *claims[1:]])
    with pytest.raises(InputError) as e:
        _read_both(bad, persons)
    assert [f.startswith("claims.csv:2:") for f in e.value.field.split("|")] == [True, True]
    _csv(bad / "claims.csv", [{**claims[0], "hospital_level": "7"}, *claims[1:]])
    with pytest.raises(InputError) as e:
        _read_both(bad, persons)
    assert e.value.field.split("|")[1] == "claims.csv:2:hospital_level"
    _csv(bad / "claims.csv", [{k: v for k, v in c.items() if k != "visit_type"} for c in claims])
    with pytest.raises(InputError, match=r"缺少列：visit_type.*缺少列：visit_type"):
        _read_both(bad, persons)
    _csv(bad / "claims.csv", claims)
    table = pa.table({"claim_id": ["C1"], "item_code": ["X"], "price": pa.array([1.1]), "quantity": ["1"]})
    pq.write_table(table, bad / "lines.parquet")
    (bad / "lines.csv").unlink()
    with pytest.raises(InputError, match=r"二进制浮点数.*二进制浮点数"):
        _read_both(bad, persons)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([YIBAO, *args], capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "COLUMNS": "220"})  # fmt: skip


def test_the_commands(tmp_path: Path) -> None:
    inputs, base, new = tmp_path / "in", tmp_path / "base", tmp_path / "new"
    done = run("sim", "--scale", "0.0005", "--seed", "3", "--out", str(tmp_path / "sim"), "--batch", str(inputs))
    assert done.returncode == 0, done.stderr
    common = ["--claims", str(inputs), "--persons", str(inputs / "persons.parquet"), "--catalog",
              f"{CITY}={inputs / 'catalog.csv'}"]  # fmt: skip
    assert run("batch", "settle", *common, "--out", str(base)).returncode == 0
    overlay = ROOT / "examples" / "overlays" / "chaozhou-2020-resident-deductible-down.yaml"
    assert run("batch", "settle", *common, "--overlay", str(overlay), "--out", str(new)).returncode == 0
    table = run("batch", "compare", str(base), str(new), "--by", "scheme", "--csv", str(tmp_path / "cmp.csv"))
    assert table.returncode == 0, table.stderr
    rows = list(csv.DictReader((tmp_path / "cmp.csv").read_text(encoding="utf-8-sig").splitlines()))
    by = {r["险种"]: r for r in rows}
    assert by["employee"]["基金支出变化"] == "0.00"  # the overlay changes residents only
    assert by["resident"]["基金支出变化"].replace(".", "").isdigit() and by["resident"]["基金支出变化"] != "0.00"
    assert by["resident"]["负担上升人数"] == "0"  # a lower deductible raises nobody's burden
    claim = pq.read_table(base / "results.parquet").to_pylist()[0]["claim_id"]
    explained = run("batch", "explain", "--results", str(base), "--claim", claim)
    assert explained.returncode == 0, explained.stderr
    assert "逐项一致" in explained.stdout
    scalar = tmp_path / "scalar"
    assert run("batch", "settle", *common, "--out", str(scalar), "--engine", "scalar").returncode == 0
    for name in ("results.parquet", "accumulators.parquet"):  # the default (duckdb) engine wrote the same rows
        assert pq.read_table(base / name).to_pylist() == pq.read_table(scalar / name).to_pylist(), name
    refused = run("batch", "settle", *common, "--out", str(tmp_path / "x"), "--engine", "spark-ish")
    assert refused.returncode == 2 and "--engine" in refused.stderr  # --engine spark: tests/test_batch_spark.py


def test_the_vectorised_fee_split_equals_the_scalar_split_to_the_fen(year) -> None:
    """The vectorised executor's first stage: every fee line's split in one DuckDB query equals the
    scalar engine's split of the same line — claim totals against the scalar batch, each line
    against :func:`yibao.engine.settle` with ``keep_lines``, zero tolerance (the sample reaches the
    over-limit rule, restrictions and per-person-type ratios of the generated catalogue)."""
    from yibao.batch.vector_split import split_lines_vectorised
    from yibao.engine import settle

    folder, _, _, snapshot = year
    claims = read_claims(folder)
    persons = read_persons(folder / "persons.parquet")
    con = split_lines_vectorised(claims, persons, snapshot)
    try:
        by_claim = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT claim_id, total, full_self_pay, over_limit, self_pay_first, policy_range FROM claim_split JOIN ctx USING (idx)"
            ).fetchall()
        }
        by_line = {(r[0], r[1]): r[2:] for r in con.execute(
            "SELECT claim_id, position, full_self_pay, over_limit, self_pay_first, policy_range, reason FROM line_split"
        ).fetchall()}  # fmt: skip
    finally:
        con.close()
    outcome = settle_scalar(claims, persons, snapshot)
    assert len(by_claim) == len(outcome.settled)
    capped = 0
    for _, s, _ in outcome.settled:
        assert by_claim[s.claim_id] == (s.total, s.full_self_pay, s.over_limit, s.self_pay_first, s.policy_range)
    for bc, _, who in outcome.settled[:400]:
        state = read_persons(folder / "persons.parquet")[(bc.person_id, bc.claim.settlement_date.year)].state
        again, _ = settle(bc.claim, who.person, state, snapshot, keep_lines=True)
        for line in again.lines or []:
            got = by_line[(bc.claim.claim_id, line.position)]
            assert got == (line.full_self_pay, line.over_limit, line.self_pay_first, line.policy_range,
                           "" if line.reason == "C" else line.reason), (bc.claim.claim_id, line)  # fmt: skip
            capped += line.over_limit > 0
    assert capped > 0  # the sample reaches the over-limit rule


@pytest.mark.parametrize("fine_cap", [None, "3.336665"])
def test_the_vectorised_fee_split_on_every_restriction_and_edge(year, fine_cap: str | None) -> None:
    """Hand-made lines for what a generated year may not reach: each restriction (sex, age below and
    above, visit type, hospital level, indication), a per-person-type ratio, a price exactly at and a
    cent above the payment standard, a zero quantity, an undeclared 乙类 item (policy default). With
    ``fine_cap``, a payment standard with more decimals than the narrow cap type holds (the query
    then computes caps in DECIMAL(38, 12)), reached with a fractional quantity."""
    from datetime import date
    from decimal import Decimal

    from yibao.batch.vector_split import split_lines_vectorised
    from yibao.engine import settle
    from yibao.engine.model import Claim, FeeLine
    from yibao.io.batch_files import BatchClaim
    from yibao.policy.catalog import CatalogItem

    _, _, _, snapshot = year

    def item(code: str, cls: int = 2, **kw: object) -> CatalogItem:
        base: dict[str, object] = {"name": code, "kind": "drug", "item_class": cls, "self_pay_first_ratio": 1000,
                                   "ratio_by_person_type": (), "payment_standard": None, "sex": None, "age_min": None,
                                   "age_max": None, "visit_types": None, "min_hospital_level": None,
                                   "indication_required": False, "valid_from": None, "valid_to": None,
                                   "region": CITY}  # fmt: skip
        return CatalogItem(code=code, **(base | kw))  # type: ignore[arg-type]

    items = [item("SEX", sex="female"), item("OLD", age_min=70), item("YOUNG", age_max=10),
             item("INPT", visit_types=frozenset({"inpatient"})), item("L3", min_hospital_level=3),
             item("IND", indication_required=True), item("TYPE", ratio_by_person_type=(("adult", 3000),)),
             item("STD", payment_standard=Decimal("10.00")), item("A", cls=1), item("C", cls=3)]  # fmt: skip
    if fine_cap:
        items.append(item("FINE", payment_standard=Decimal(fine_cap)))
    custom = PolicySnapshot(snapshot.tree, snapshot.layers, {**snapshot.catalogs, CITY: items})
    persons = read_persons(year[0] / "persons.parquet")
    key = next(
        k
        for k, p in persons.items()
        if p.person.scheme == "resident"
        and p.person.person_type == "adult"
        and p.person.sex == "male"
        and 10 < p.person.age < 70
    )
    who = persons[key]

    def line(code: str, price: str, qty: str = "1", **kw: object) -> FeeLine:
        amount = int((Decimal(price) * Decimal(qty) * 100).to_integral_value())
        return FeeLine(code, amount, Decimal(price), Decimal(qty), **kw)  # type: ignore[arg-type]

    lines = (line("SEX", "12.34"), line("OLD", "5.55"), line("YOUNG", "6.66"), line("INPT", "7.77"),
             line("L3", "8.88"), line("IND", "9.99", indication_met=False), line("IND", "9.99"),
             line("TYPE", "33.33"), line("STD", "10.00", "3"), line("STD", "10.01", "3"), line("STD", "10.01", "0"),
             line("A", "1.00"), line("C", "2.00"), line("UNLISTED", "4.44", declared_class=2))  # fmt: skip
    if fine_cap:  # 3.34 × 1.5 = 5.01 against 3.336665 × 1.5 = 5.0049975 → 5.00: one fen over the limit
        # (the cap cut to 4 decimals, 3.3367 × 1.5 = 5.00505 → 5.01, would give none)
        lines = (*lines, line("FINE", "3.34", "1.5"))
    claim = Claim("EDGE1", CITY, CITY, "outpatient", 1, date(2020, 6, 1), fee_lines=lines)
    batch = [BatchClaim(0, who.person.person_id, claim, None)]
    con = split_lines_vectorised(batch, persons, custom)
    try:
        got = con.execute("SELECT position, full_self_pay, over_limit, self_pay_first, policy_range, reason "
                          "FROM line_split ORDER BY position").fetchall()  # fmt: skip
    finally:
        con.close()
    scalar, _ = settle(claim, who.person, who.state, custom, keep_lines=True)
    want = [(x.position, x.full_self_pay, x.over_limit, x.self_pay_first, x.policy_range,
             "" if x.reason == "C" else x.reason) for x in scalar.lines or []]  # fmt: skip
    assert got == want
    assert not fine_cap or got[-1][2] == 1
    reasons = {r[5] for r in got}
    assert {"R-sex", "R-age", "R-visit", "R-level", "R-indication"} <= reasons


def test_a_batch_without_claims_carries_every_opening_forward(year, tmp_path: Path) -> None:
    """Files with a header and no rows (a quiet day, a county with nothing to settle): no results,
    and each person-year's closing accumulators are its opening ones — the same from both engines."""
    folder, *_ = year
    empty = tmp_path / "empty"
    empty.mkdir()
    for name in ("claims", "lines"):
        pq.write_table(pq.read_table(folder / f"{name}.parquet").schema.empty_table(), empty / f"{name}.parquet")
    persons = folder / "persons.parquet"
    common = ["--claims", str(empty), "--persons", str(persons), "--catalog", f"{CITY}={folder / 'catalog.csv'}"]
    written = {}
    for engine in ("duckdb", "scalar"):
        done = run("batch", "settle", *common, "--out", str(tmp_path / engine), "--engine", engine)
        assert done.returncode == 0, done.stderr
        assert pq.read_table(tmp_path / engine / "results.parquet").num_rows == 0
        written[engine] = pq.read_table(tmp_path / engine / "accumulators.parquet").to_pylist()
    assert written["duckdb"] == written["scalar"]
    opening = pq.read_table(persons).to_pylist()
    assert len(written["duckdb"]) == len(opening) > 0
    assert {(r["person_id"], r["year"]) for r in written["duckdb"]} == {(p["person_id"], p["year"]) for p in opening}


def test_a_raised_critical_illness_cap_is_read_by_both_readers(year, tmp_path: Path) -> None:
    """``ci_cap_raise`` (连续参保激励, basis points of the 大病 cap) reaches both executors from the
    persons file, and a value out of range is refused by both readers alike, nothing settled."""
    import duckdb

    from yibao.batch.vector_files import tables_from_files

    folder, *_ = year
    rows = pq.read_table(folder / "persons.parquet").to_pylist()
    raised = [{**r, "ci_cap_raise": 2000 if r["scheme"] == "resident" else None} for r in rows]
    pq.write_table(pa.Table.from_pylist(raised), tmp_path / "persons.parquet")
    scalar = {k[0]: p.person.critical_illness_cap_raise for k, p in read_persons(tmp_path / "persons.parquet").items()}
    con = duckdb.connect()
    tables_from_files(con, folder, tmp_path / "persons.parquet")
    vector = dict(con.execute("SELECT person_id, cap_raise FROM persons").fetchall())
    assert scalar == vector
    assert sorted(set(scalar.values())) == [0, 2000]
    _csv(tmp_path / "persons.csv", [{**raised[0], "ci_cap_raise": "12000"}, *raised[1:]])
    with pytest.raises(InputError) as scalar_error:
        read_persons(tmp_path / "persons.csv")
    with pytest.raises(InputError) as vector_error:
        tables_from_files(duckdb.connect(), folder, tmp_path / "persons.csv")
    assert scalar_error.value.field == vector_error.value.field == "persons.csv:2:ci_cap_raise"
    assert scalar_error.value.reason == vector_error.value.reason and "10000" in scalar_error.value.reason


def test_lines_and_claims_that_do_not_meet_are_refused_in_the_readers_order(year, tmp_path: Path) -> None:
    """A line of no claim and a claim without lines are found by the fee split's join (not by scans of
    their own), yet refused as the files' reader refuses them: at their row, before any refusal the
    reader would have made later (a persons-file error, a person-year missing), after those it makes
    first (a bad price), and nothing is settled. The lines of a reversal are no error."""
    import duckdb

    from yibao.batch.vector import settle_vectorised
    from yibao.batch.vector_files import tables_from_files

    folder, _, _, snapshot = year
    claims = pq.read_table(folder / "claims.parquet").to_pylist()[:4]
    ids = {c["claim_id"] for c in claims}
    lines = [x for x in pq.read_table(folder / "lines.parquet").to_pylist() if x["claim_id"] in ids]
    persons = pq.read_table(folder / "persons.parquet").to_pylist()
    bad = tmp_path / "in"
    bad.mkdir()

    def refusal(claim_rows: list[dict[str, object]], line_rows: list[dict[str, object]],
                person_rows: list[dict[str, object]] = persons) -> InputError:  # fmt: skip
        _csv(bad / "claims.csv", claim_rows)
        _csv(bad / "lines.csv", line_rows)
        _csv(bad / "persons.csv", person_rows)
        with pytest.raises(InputError) as e:
            con = duckdb.connect()
            tables_from_files(con, bad, bad / "persons.csv")
            settle_vectorised(con, snapshot)
        return e.value

    orphan = [*lines, {**lines[0], "claim_id": "NO-SUCH-CLAIM"}]
    where = f"lines.csv:{len(orphan) + 1}:claim_id"
    assert (refusal(claims, orphan).field, refusal(claims, orphan).reason) == (where, "费用明细所属理赔不存在")
    lonely = [x for x in lines if x["claim_id"] != claims[2]["claim_id"]]
    e = refusal(claims, lonely)
    assert (e.field, e.reason) == ("claims:4:claim_id", f"理赔 {claims[2]['claim_id']} 没有费用明细")
    # later refusals wait: a persons-file error, a person-year missing, a bad class stated after the check
    broken_persons = [{**persons[0], "region": "44"}, *persons[1:]]
    assert refusal(claims, orphan, broken_persons).field == where
    assert refusal(claims, lonely, broken_persons).field == "claims:4:claim_id"
    absent = [p for p in persons if p["person_id"] != claims[0]["person_id"]]
    assert refusal(claims, orphan, absent).field == where
    assert refusal(claims, lonely, absent).field == "claims:4:claim_id"
    assert refusal(claims, [*orphan[:-1], {**orphan[-1], "declared_class": "9"}]).field == where
    # an earlier-stated check still comes first
    assert refusal(claims, [{**orphan[0], "price": "abc"}, *orphan[1:]]).field == "lines.csv:2:price"
    # a reversal's lines are ignored, as the scalar reader ignores them
    reversal = {**claims[0], "claim_id": "R-" + claims[0]["claim_id"], "reverses": claims[0]["claim_id"]}
    _csv(bad / "claims.csv", [*claims, reversal])
    _csv(bad / "lines.csv", [*lines, {**lines[0], "claim_id": reversal["claim_id"]}])
    _csv(bad / "persons.csv", persons)
    con = duckdb.connect()
    tables_from_files(con, bad, bad / "persons.csv")
    got = settle_vectorised(con, snapshot).results.to_pylist()
    want = settle_scalar(read_claims(bad), read_persons(bad / "persons.csv"), snapshot).settled
    assert [r["claim_id"] for r in got] == [s.claim_id for _, s, _ in want] and len(got) == 5

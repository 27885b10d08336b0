"""The Spark executor (``yibao batch settle --engine spark``) equals the DuckDB engine on the same files.

- differential: a random year (``random_batch``: every rule variant, reversals in the stream) written
  as batch files and settled by both engines through the command line, over several buckets — every
  column of every result row and every closing accumulator equal; ``batch explain`` and
  ``batch compare`` read the Spark output (a dataset of parts);
- CSV input, and buckets holding persons without claims (whose opening accumulators are written);
- bad input — a duplicate claim id, a line of no claim, a bad price (found inside one bucket), a
  reversal of another person's claim — refused with the DuckDB engine's message, nothing written.

The commands run in this process (typer's runner), so they all find the module's Spark session:
the JVM starts once.
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import Result
from typer.testing import CliRunner

from conftest import FIXTURES, NATIONAL, POLICIES
from random_batch import Generator, snapshot
from yibao.batch.spark import spark_session
from yibao.cli import app
from yibao.io.batch_files import BatchClaim, BatchPerson, write_rows
from yibao.io.catalog_files import write_catalog
from yibao.io.settlement_json import state_json
from yibao.money import fen_to_yuan
from yibao.sim.catalog import generate_catalog

PERSONS, SEED, BUCKETS = 700, 21, 4
Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class World:
    """A random year as batch files, with the policy directory and catalogue the CLI is given."""

    root: Path
    policy: Path
    catalog: Path
    claims: Rows
    lines: Rows
    persons: Rows

    def write(self, name: str, claims: Rows, lines: Rows, persons: Rows | None = None, suffix: str = "parquet") -> Path:
        folder = self.root / name
        for stem, rows in (("claims", claims), ("lines", lines), ("persons", persons or self.persons)):
            if suffix == "csv":
                _csv(folder / f"{stem}.csv", rows)
            else:
                write_rows(folder / f"{stem}.parquet", rows)
        return folder

    def settle(self, engine: str, folder: Path, out: Path, *extra: str) -> Result:
        persons = next(folder.glob("persons.*"))
        return CliRunner().invoke(app, [
            "batch", "settle", "--claims", str(folder), "--persons", str(persons), "-p", str(self.policy),
            "--catalog", f"445100={self.catalog}", "--out", str(out), "--engine", engine, *extra,
        ])  # fmt: skip


def _csv(path: Path, rows: Rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def _day(d: object) -> str | None:
    return None if d is None else str(d)


def claim_rows(claims: list[BatchClaim]) -> tuple[Rows, Rows]:
    """Claims and fee lines in the columns of the batch files (docs/batch.md), amounts in yuan."""
    out: Rows = []
    lines: Rows = []
    by_id = {bc.claim.claim_id: bc.claim for bc in claims}
    for bc in claims:
        c = bc.claim
        disease = by_id[bc.reverses].disease if bc.reverses else c.disease  # a reversal row repeats its claim's
        out.append({
            "claim_id": c.claim_id, "person_id": bc.person_id, "insured_region": c.insured_region,
            "treatment_region": c.treatment_region, "visit_type": c.visit_type, "hospital_level": c.hospital_level,
            "settlement_date": str(c.settlement_date), "admission_date": _day(c.admission_date),
            "discharge_date": _day(c.discharge_date), "disease": disease, "day_surgery": c.day_surgery,
            "filed": c.filed, "transfer_from_level": c.transfer_from_level, "acct_used_flag": str(c.account_use),
            "mutual_aid_balance": None if c.mutual_aid_balance is None else fen_to_yuan(c.mutual_aid_balance),
            "reverses": bc.reverses,
        })  # fmt: skip
        for x in c.fee_lines or ():
            lines.append({
                "claim_id": c.claim_id, "line_no": x.line_no, "item_code": x.item_code, "price": str(x.price),
                "quantity": str(x.quantity), "amount": fen_to_yuan(x.amount),
                "declared_class": None if x.declared_class is None else f"0{x.declared_class}",
                "indication_met": x.indication_met,
            })  # fmt: skip
    return out, lines


def person_rows(persons: dict[tuple[str, int], BatchPerson]) -> Rows:
    """Persons with their opening accumulators as the state JSON writes them (yuan)."""
    out: Rows = []
    for (pid, year), bp in sorted(persons.items()):
        p, state = bp.person, state_json(bp.state)
        row: dict[str, Any] = {"person_id": pid, "scheme": p.scheme, "person_type": p.person_type, "age": p.age,
                               "sex": p.sex, "assistance_category": p.assistance_category,
                               "civil_servant": p.civil_servant, "benefits_from": _day(p.benefits_from),
                               "region": bp.state.region, "year": year}  # fmt: skip
        row |= {k: v for k, v in state.items() if k not in ("psn_no", "insutype", "region", "year", "chronic")}
        out.append(row | {"chronic": json.dumps(state["chronic"], sort_keys=True)})
    return out


@pytest.fixture(scope="module", autouse=True)
def spark() -> Iterator[None]:
    """One small local session for the module; the commands find it and use it."""
    session, _ = spark_session("local[2]", ("spark.driver.memory=1g", "spark.sql.shuffle.partitions=4"))
    yield
    session.stop()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("spark")
    policy = root / "policies"  # random_batch's policy roots as the one directory the CLI takes
    for i, tree in enumerate((NATIONAL, FIXTURES / "rules", FIXTURES / "published", POLICIES / "440000-guangdong")):
        shutil.copytree(tree, policy / f"{i}-{tree.name}")
    items, _ = generate_catalog(5)
    write_catalog(root / "catalog.csv", items)
    claims, persons = Generator(snapshot(), SEED).batch(PERSONS, prefix="S")
    claim_table, lines = claim_rows(claims)
    return World(root, policy, root / "catalog.csv", claim_table, lines, person_rows(persons))


def table(path: Path, key: tuple[str, ...]) -> tuple[list[tuple[str, str]], Rows]:
    """A results or accumulators file (or dataset of parts): its columns and types, rows sorted by ``key``."""
    t = pq.read_table(path)
    rows = sorted(t.to_pylist(), key=lambda r: tuple(r[k] for k in key))
    return [(f.name, str(f.type)) for f in t.schema], rows


def assert_same_output(duck: Path, spark: Path) -> int:
    """Both engines' results (by claim) and accumulators (by person-year), every column; the result count."""
    for name, key in (("results.parquet", ("claim_id",)), ("accumulators.parquet", ("person_id", "year"))):
        want_columns, want = table(duck / name, key)
        got_columns, got = table(spark / name, key)
        assert got_columns == want_columns, name
        assert len(got) == len(want), name
        for w, g in zip(want, got, strict=True):
            assert g == w, {k: (w[k], g[k]) for k in w if w[k] != g[k]}
    return len(table(duck / "results.parquet", ("claim_id",))[1])


def test_spark_equals_duckdb_on_a_random_year(world: World) -> None:
    folder = world.write("year", world.claims, world.lines)
    duck, spark = world.root / "year-duckdb", world.root / "year-spark"
    done = world.settle("duckdb", folder, duck)
    assert done.exit_code == 0, done.output
    ran = world.settle("spark", folder, spark, "--buckets", str(BUCKETS))
    assert ran.exit_code == 0, ran.output
    assert ran.stdout.split("（")[0] == done.stdout.split("（")[0]  # "已结算 N 笔"
    settled = assert_same_output(duck, spark)
    reversals = sum(1 for c in world.claims if c["reverses"])
    assert settled == len(world.claims) > 2000 and reversals > 50
    assert sorted(p.name for p in spark.iterdir()) == ["accumulators.parquet", "manifest.json", "results.parquet"]
    assert 1 < len(list((spark / "results.parquet").glob("part-*.parquet"))) <= BUCKETS
    assert json.loads((spark / "manifest.json").read_text(encoding="utf-8"))["engine"] == "spark"
    # the person with the most claims: explain replays all their earlier claims
    person = max({c["person_id"] for c in world.claims}, key=lambda p: sum(c["person_id"] == p for c in world.claims))
    claim = [c["claim_id"] for c in world.claims if c["person_id"] == person][-1]
    explained = CliRunner().invoke(app, ["batch", "explain", "--results", str(spark), "--claim", claim])
    assert explained.exit_code == 0, explained.output
    assert "逐项一致" in explained.stdout
    compared = CliRunner().invoke(app, ["batch", "compare", str(duck), str(spark), "--by", "scheme",
                                        "--csv", str(world.root / "cmp.csv")])  # fmt: skip
    assert compared.exit_code == 0, compared.output
    rows = list(csv.DictReader((world.root / "cmp.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert rows and all(r["基金支出变化"] == "0.00" and r["个人负担变化"] == "0.00" for r in rows)


def test_csv_input_and_buckets_of_persons_without_claims(world: World) -> None:
    """A few persons' claims and every person: most of 16 buckets hold persons only."""
    few = sorted({c["person_id"] for c in world.claims})[:5]
    claims = [c for c in world.claims if c["person_id"] in few]
    lines = [x for x in world.lines if x["claim_id"] in {c["claim_id"] for c in claims}]
    folder = world.write("few", claims, lines, suffix="csv")
    duck, spark = world.root / "few-duckdb", world.root / "few-spark"
    assert world.settle("duckdb", folder, duck).exit_code == 0
    ran = world.settle("spark", folder, spark, "--buckets", "16")
    assert ran.exit_code == 0, ran.output
    assert assert_same_output(duck, spark) == len(claims)
    assert len(list((spark / "accumulators.parquet").glob("part-*.parquet"))) > len(few)  # buckets without claims


def _duplicate(world: World) -> tuple[Rows, Rows]:
    claims = world.claims[:300]
    other = claims[-1]["person_id"]
    return [*claims, {**claims[40], "person_id": other}], _lines_of(world, claims)


def _orphan(world: World) -> tuple[Rows, Rows]:
    claims = world.claims[:300]
    lines = _lines_of(world, claims)
    return claims, [*lines[:100], {**lines[100], "claim_id": "NO-SUCH-CLAIM"}, *lines[100:]]


def _bad_price(world: World) -> tuple[Rows, Rows]:
    claims = world.claims[:300]
    lines = _lines_of(world, claims)
    return claims, [*lines[:-50], {**lines[-50], "price": "abc"}, *lines[-49:]]


def _other_persons_claim(world: World, reversed_before: bool = False) -> tuple[Rows, Rows]:
    """A later person's row reversing an earlier person's claim (same year, so only the person
    differs); ``reversed_before``: a claim its own person has reversed already."""
    claims = world.claims[:300]
    undone = {c["reverses"] for c in claims if c["reverses"]}
    victim = next(c for c in claims if not c["reverses"] and (c["claim_id"] in undone) == reversed_before)
    thief = next(c for c in claims if c["person_id"] > victim["person_id"] and c["settlement_date"][:4] == victim["settlement_date"][:4])  # fmt: skip
    reversal = {**victim, "claim_id": "STOLEN-R", "person_id": thief["person_id"], "reverses": victim["claim_id"]}
    return [*claims, reversal], _lines_of(world, claims)


def _reversed_claim_of_another(world: World) -> tuple[Rows, Rows]:
    return _other_persons_claim(world, reversed_before=True)


def _lines_of(world: World, claims: Rows) -> Rows:
    ids = {c["claim_id"] for c in claims}
    return [x for x in world.lines if x["claim_id"] in ids]


DEFECTS = [(_duplicate, "理赔编号重复"), (_orphan, "费用明细所属理赔不存在"), (_bad_price, "应为数值"),
           (_other_persons_claim, "累计数据与原结算的参保人不符"), (_reversed_claim_of_another, "已被冲正")]  # fmt: skip
NAMES = ["duplicate-claim", "orphan-line", "bad-price", "other-persons-claim", "reversed-claim-of-another"]


@pytest.mark.parametrize(("defect", "reason"), DEFECTS, ids=NAMES)
def test_bad_input_is_refused_as_duckdb_refuses_it(world: World, defect: Any, reason: str) -> None:
    claims, lines = defect(world)
    folder = world.write(f"bad-{defect.__name__}", claims, lines)
    duck, spark = world.root / f"{folder.name}-duckdb", world.root / f"{folder.name}-spark"
    refused = world.settle("duckdb", folder, duck)
    assert refused.exit_code == 2 and reason in refused.stderr, refused.output  # the defect is the one meant
    ran = world.settle("spark", folder, spark, "--buckets", str(BUCKETS))
    assert ran.exit_code == 2, ran.output
    assert ran.stderr.strip() == refused.stderr.strip()  # the same field (file:row:column) and reason
    assert not spark.exists()  # nothing written, no staging left


def test_without_pyspark_the_engine_says_how_to_install_it(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # as if pyspark were not installed
    folder = world.write("no-pyspark", world.claims[:5], _lines_of(world, world.claims[:5]))
    refused = world.settle("spark", folder, world.root / "no-pyspark-out")
    assert refused.exit_code == 2
    assert "pip install 'yibao[spark]'" in refused.stderr

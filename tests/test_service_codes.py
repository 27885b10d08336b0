"""Per-region code tables: local 医疗类别, 人员类别 and 清算类别 through the interface."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from conftest import ROOT, new_person
from harness import Client, build, database, serving
from yibao.errors import InputError
from yibao.io.yaml_exact import load_yaml
from yibao.service.codes import parse_code_tables

NOW = f"{datetime.now():%Y-%m-%d %H:%M:%S}"


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory):
    with database("sqlite", tmp_path_factory.mktemp("codes")) as url:
        platform = build(url)
        platform.codes = parse_code_tables(load_yaml((ROOT / "examples" / "code-tables.yaml").read_text("utf-8")))
        with serving(platform) as base:
            yield platform, base
        platform.engine.dispose()


def test_local_codes_are_inherited_and_the_national_baseline_remains(local) -> None:
    platform, _ = local
    codes = platform.codes
    assert codes.med_type("445102", "2101") == ("inpatient", False)  # from 440000 down to a county
    assert codes.med_type("445102", "21") == ("inpatient", False)  # national baseline
    assert codes.med_type("340100", "2101") is None  # another province never saw it
    assert codes.clr_type("445100", "chronic") == "9901" and codes.clr_type("440100", "chronic") == "14"
    assert codes.person_type("445100", "116003") == "active" and codes.person_type("445100", "1201") == "retiree"


def test_a_local_med_type_admits_and_a_local_person_type_settles(local) -> None:
    platform, base = local
    c = Client(base)
    psn = new_person(platform, "310", "116003")
    adm = c.ok("2401", {"mdtrtinfo": {"psn_no": psn, "insutype": "310", "begntime": "2026-02-01 08:00:00",
                                      "med_type": "2101", "ipt_no": "1"}})  # fmt: skip
    assert adm["result"]["mdtrt_id"]
    assert "门诊挂号不能使用住院医疗类别" in c.refused("2201", {"data": {"psn_no": psn, "insutype": "310", "begntime": NOW,
                                                                  "med_type": "2101"}})  # fmt: skip


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (
            {"regions": {"445100": {"med_type": {"9": {"visit_type": "emergency"}}}}},
            "regions.445100.med_type.9.visit_type",
        ),
        ({"regions": {"445100": {"psn_type": {"1": "boss"}}}}, "regions.445100.psn_type.1"),
        ({"regions": {"445100": {"clr_type": {"dental": "99"}}}}, "regions.445100.clr_type.dental"),
    ],
)
def test_bad_code_tables_name_the_entry(data: object, where: str) -> None:
    with pytest.raises(InputError) as e:
        parse_code_tables(data)
    assert e.value.field == where


def test_the_example_file_parses() -> None:
    assert parse_code_tables(load_yaml(Path(ROOT / "examples" / "code-tables.yaml").read_text("utf-8"))).med_types

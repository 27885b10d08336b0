"""The ``yibao`` command, run as a user runs it (a subprocess of the installed console script)."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from conftest import ROOT

YIBAO = str(Path(sys.executable).parent / "yibao")
CLAIMS = ROOT / "examples" / "claims"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([YIBAO, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def settle(*args: str) -> dict:
    done = run("settle", "-p", "policies", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_settle_prints_national_fields_and_a_trace() -> None:
    doc = settle("-c", str(CLAIMS / "01-chaozhou-resident-inpatient.json"), "--trace")
    info = doc["setlinfo"]
    for name in ("medfee_sumamt", "inscp_scp_amt", "act_pay_dedc", "hifp_pay", "hifmi_pay", "maf_pay",
                 "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay", "hosp_part_amt"):  # fmt: skip
        assert isinstance(info[name], str) and Decimal(info[name]).as_tuple().exponent == -2
    d = {
        k: Decimal(v)
        for k, v in info.items()
        if k in ("medfee_sumamt", "fund_pay_sumamt", "psn_part_amt", "hosp_part_amt")
    }
    assert d["medfee_sumamt"] == d["fund_pay_sumamt"] + d["psn_part_amt"] + d["hosp_part_amt"]
    assert sum(Decimal(x["fund_payamt"]) for x in doc["setldetail"]) == d["fund_pay_sumamt"]
    steps = [s["step"] for s in doc["trace"]]
    assert steps[:3] == ["fee_split", "deductible", "pooled_fund"] and "critical_illness" in steps
    deductible = doc["trace"][1]["params"][0]
    assert deductible["exceptions"][0]["rule"] == "assisted_groups_deductible_half"
    assert deductible["source"] and deductible["effective_from"]


def test_state_threads_between_settlements_and_a_reversal_restores_it(tmp_path: Path) -> None:
    first = settle("-c", str(CLAIMS / "01-chaozhou-resident-inpatient.json"))
    state1 = tmp_path / "state1.json"
    state1.write_text(json.dumps(first["state"]), encoding="utf-8")
    second = settle("-c", str(CLAIMS / "03-chaozhou-resident-inpatient-2.json"), "--state", str(state1))
    assert second["state"]["admissions"] == 2
    out2, state2 = tmp_path / "out2.json", tmp_path / "state2.json"
    out2.write_text(json.dumps(second), encoding="utf-8")
    state2.write_text(json.dumps(second["state"]), encoding="utf-8")
    undone = settle("--reverse", str(out2), "--state", str(state2))
    assert undone["state"] == first["state"]
    assert undone["setlinfo"]["fund_pay_sumamt"] == "-" + second["setlinfo"]["fund_pay_sumamt"]
    assert undone["settlement"]["reverses"] == "CZ2024-000102"


def test_fee_lines_come_back_split() -> None:
    doc = settle("-c", str(CLAIMS / "02-chaozhou-employee-inpatient-lines.json"), "--lines")
    lines = {x["hilist_code"]: x for x in doc["feedetail"]}
    assert lines["DEMO-M0001"]["overlmt_amt"] == "100.00"  # 2 × (850 − 800 payment standard)
    assert lines["DEMO-D0004"]["fulamt_ownpay_amt"] == "1140.00" and lines["DEMO-D0004"]["reason"] == "R-indication"
    assert lines["DEMO-D0002"]["selfpay_prop"] == "0.0800"  # the retiree's ratio from the catalogue


def claim_with(tmp_path: Path, **changes: object) -> Path:
    data = json.loads((CLAIMS / "02-chaozhou-employee-inpatient-lines.json").read_text(encoding="utf-8"))
    for key, val in changes.items():
        target = data
        parts = key.split("__")
        for p in parts[:-1]:
            target = target[int(p)] if p.isdigit() else target[p]
        target[parts[-1]] = val
    path = tmp_path / "claim.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"insuplc_admdvs": "449900"}, "未知的医保区划 449900"),
        ({"insuplc_admdvs": "44510"}, "insuplc_admdvs"),
        ({"dscg_date": "2019-06-01", "adm_date": "2019-05-20"}, "没有生效的政策参数 employee.inpatient"),
        ({"fee_lines__0__det_item_fee_sumamt": "12.345"}, "fee_lines[0].det_item_fee_sumamt：金额最多两位小数"),
        ({"fee_lines__1__pric": "abc"}, "fee_lines[1].pric：不是合法的数值"),
        ({"fee_lines__8__chrgitm_lv": ""}, "fee_lines[8].item_code：目录中没有项目 LOCAL-9001"),
        ({"med_type": "99"}, "med_type"),
        ({"person__age": "-3"}, "person.age"),
        ({"person__psn_type": "1501"}, "person.psn_type"),
    ],
)
def test_bad_input_exits_non_zero_naming_the_field(tmp_path: Path, changes: dict, needle: str) -> None:
    done = run("settle", "-p", "policies", "-c", str(claim_with(tmp_path, **changes)))
    assert done.returncode == 2
    assert needle in done.stderr.replace("\n", "")
    assert done.stdout == ""


def test_malformed_json_and_missing_files_are_reported(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    done = run("settle", "-p", "policies", "-c", str(bad))
    assert done.returncode == 2 and "不是合法的 JSON" in done.stderr
    done = run("settle", "-p", "policies", "-c", str(tmp_path / "missing.json"))
    assert done.returncode == 2 and "无法读取" in done.stderr
    done = run("settle", "-p", str(tmp_path / "nowhere"), "-c", str(CLAIMS / "01-chaozhou-resident-inpatient.json"))
    assert done.returncode == 2 and "政策目录不存在" in done.stderr


def test_policy_validate_show_and_diff() -> None:
    done = run("policy", "validate", "policies")
    assert done.returncode == 0 and "通过" in done.stdout
    done = run(
        "policy", "show", "-p", "policies", "-r", "445100", "-d", "2024-06-01", "resident.inpatient.ratio", "--json"
    )
    assert done.returncode == 0
    rows = {r["path"]: r for r in json.loads(done.stdout)}
    assert rows["resident.inpatient.ratio.level_3"]["value"] == "0.7000"
    assert "十四五" in rows["resident.inpatient.ratio.level_3"]["source"]
    assert "resident_out_of_city_ratio" in rows["resident.inpatient.ratio.level_3"]["exceptions"]
    overlay = "examples/overlays/guangdong-unify-resident-deductible.yaml"
    done = run("policy", "diff", "policies", "--overlay", overlay, "-r", "445100", "-d", "2025-06-01")
    assert done.returncode == 0 and "resident.inpatient.deductible.level_3" in done.stdout and "600.00元" in done.stdout


def test_policy_validate_reports_the_file_and_path(tmp_path: Path) -> None:
    (tmp_path / "region.yaml").write_text('code: "000000"\nname: 全国\n', encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(
        "parameters:\n  resident.inpatient.ratio.level_3:\n    description: x\n    unit: ratio\n"
        "    values:\n      2024-01-01: {value: 1.5, source: 'assumption: 测试用参数'}\n",
        encoding="utf-8",
    )
    done = run("policy", "validate", str(tmp_path))
    assert done.returncode == 2
    assert (
        "bad.yaml" in done.stderr
        and "parameters.resident.inpatient.ratio.level_3.values.2024-01-01.value" in done.stderr
    )


def test_examples_settles_the_example_claims(tmp_path: Path) -> None:
    done = run("examples", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    outputs = sorted(tmp_path.glob("*.json"))
    assert len(outputs) == len(list(CLAIMS.glob("*.json")))
    doc = json.loads(outputs[0].read_text(encoding="utf-8"))
    assert doc["trace"] and doc["setlinfo"]["medfee_sumamt"]


def test_every_command_has_help_with_an_example() -> None:
    for cmd in (
        ["settle"],
        ["demo"],
        ["sim"],
        ["examples"],
        ["policy", "validate"],
        ["policy", "show"],
        ["policy", "diff"],
        ["catalog", "check"],
    ):
        done = run(*cmd, "--help")
        assert done.returncode == 0 and "例" in done.stdout, cmd


def test_demo_refuses_a_bad_scale_naming_the_option(tmp_path: Path) -> None:
    for bad in ("abc", "0", "5"):
        done = run("demo", "--scale", bad, "--out", str(tmp_path))
        assert done.returncode == 2 and "--scale" in done.stderr, (bad, done.stderr)
    assert not (tmp_path / "yibao.db").exists()  # nothing written


def test_sim_writes_the_city_as_csv(tmp_path: Path) -> None:
    done = run("sim", "--scale", "1/20000", "--seed", "2", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    persons = (tmp_path / "persons.csv").read_text(encoding="utf-8").splitlines()
    assert len(persons) == 1 + 133  # 266.30万 / 20,000, and the header
    visits = (tmp_path / "visits.csv").read_text(encoding="utf-8").splitlines()
    assert visits[0].startswith("mdtrt_id,psn_no,date") and len(visits) > len(persons)

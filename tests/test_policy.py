"""Policy as dated data: loading, inheritance, dates, exceptions, overlays, the envelope, show/diff."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest

from conftest import NATIONAL, POLICIES, y
from yibao.errors import EnvelopeViolation, NoPolicyInForce, PolicyFileError, UnknownRegion
from yibao.io.policy_dir import load_policy_dir
from yibao.policy.context import RuleContext
from yibao.policy.diff import diff_snapshots
from yibao.policy.envelope import base_context
from yibao.policy.schema import DEFINITIONS, Kind, definition_of
from yibao.policy.snapshot import PolicySnapshot

SRC = 'source: "assumption: 测试用参数"'


def tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


def city(tmp_path: Path, params: str, extra: dict[str, str] | None = None, own_root: bool = True) -> Path:
    """A province and city under ``tmp_path/r``; with ``own_root`` also a bare national region
    (leave it out to combine with the shipped national template)."""
    files = {
        "r/p/region.yaml": 'code: "970000"\nname: 测试省\n',
        "r/p/c/region.yaml": 'code: "970100"\nname: 测试市\npooling: true\ncounties: {"970102": 甲区}\n',
        "r/p/c/params.yaml": params,
    }
    if own_root:
        files["r/region.yaml"] = 'code: "000000"\nname: 全国\n'
    files.update(extra or {})
    return tree(tmp_path, files) / "r"


RATIO = f"""\
parameters:
  resident.inpatient.ratio.level_3:
    description: 居民三级比例
    unit: ratio
    values:
      2024-01-01: {{value: 0.70, {SRC}}}
      2024-07-01: {{value: 0.75, {SRC}}}
"""


def ctx(**kw: object) -> RuleContext:
    base = base_context("resident")
    return base._replace(**kw)  # type: ignore[arg-type]


def value(s: PolicySnapshot, region: str, on: str, path: str, **kw: object) -> object:
    return s.at(region, date.fromisoformat(on)).resolve(path, ctx(**kw), date.fromisoformat(on)).value


def test_values_switch_on_their_effective_date(tmp_path: Path) -> None:
    s = load_policy_dir(city(tmp_path, RATIO))
    path = "resident.inpatient.ratio.level_3"
    assert value(s, "970100", "2024-06-30", path) == 7000
    assert value(s, "970100", "2024-07-01", path) == 7500
    with pytest.raises(NoPolicyInForce) as e:
        value(s, "970100", "2023-12-31", path)
    assert (e.value.region, e.value.on, e.value.path) == ("970100", "2023-12-31", path)


def test_children_inherit_and_override_only_what_they_name(tmp_path: Path) -> None:
    county = {
        "r/p/c/k/region.yaml": 'code: "970103"\nname: 乙县\n',
        "r/p/c/k/params.yaml": f"""\
            parameters:
              resident.inpatient.ratio.level_3:
                description: 乙县三级比例
                unit: ratio
                values:
                  2024-03-01: {{value: 0.80, {SRC}}}
            """,
    }
    s = load_policy_dir(city(tmp_path, RATIO + _deductible(), county))
    path = "resident.inpatient.ratio.level_3"
    assert value(s, "970103", "2024-02-01", path) == 7000  # before its own first date: the city's
    assert value(s, "970103", "2024-08-01", path) == 8000  # its own value from then on
    assert value(s, "970103", "2024-08-01", "resident.inpatient.deductible.level_3") == y(600)  # inherited
    assert value(s, "970102", "2024-08-01", path) == 7500  # a listed county without files = the city
    assert s.tree.pooling_region("970103").code == "970100"
    with pytest.raises(UnknownRegion):
        s.at("970199", date(2024, 1, 1))


def _deductible() -> str:
    return f"""\
  resident.inpatient.deductible.level_3:
    description: 居民三级起付线
    unit: yuan
    values:
      2024-01-01: {{value: 600, {SRC}}}
"""


@pytest.mark.parametrize(
    ("params", "path", "reason"),
    [
        (RATIO.replace("unit: ratio", "unit: yuan"), "parameters.resident.inpatient.ratio.level_3.unit", "单位应为"),
        (RATIO.replace(f", {SRC}", ""), "source", "缺少 source"),
        (RATIO.replace('"assumption: 测试用参数"', '"某地文件"'), "source", "来源应包含"),
        (RATIO.replace("0.70", "1.20"), "values.2024-01-01.value", "0 与 1 之间"),
        (RATIO.replace("0.70", "0.70001"), "values.2024-01-01.value", "四位小数"),
        (RATIO.replace("level_3", "level_9"), "parameters.resident.inpatient.ratio.level_9", "未知的参数路径"),
        (RATIO.replace("2024-01-01", "2024-13-01"), "values.2024-13-01", "YYYY-MM-DD"),
        (RATIO.replace("    description: 居民三级比例\n", ""), "description", "缺少参数说明"),
        (RATIO + "  bogus: 1\n", "parameters.bogus", "应为映射"),
    ],
)
def test_bad_files_are_rejected_with_file_path_and_reason(tmp_path: Path, params: str, path: str, reason: str) -> None:
    with pytest.raises(PolicyFileError) as e:
        load_policy_dir(city(tmp_path, params))
    assert e.value.file == "p/c/params.yaml"
    assert path in e.value.path
    assert reason in e.value.reason


def test_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError) as e:
        load_policy_dir(city(tmp_path, "parameters: [unclosed\n"))
    assert e.value.file == "p/c/params.yaml" and "行" in e.value.path


def test_decimals_in_yaml_are_exact(tmp_path: Path) -> None:
    params = RATIO + "  resident.inpatient.deductible.level_3:\n    description: 起付线\n    unit: yuan\n"
    params += f"    values:\n      2024-01-01: {{value: 1234.57, {SRC}}}\n"
    s = load_policy_dir(city(tmp_path, params))
    assert value(s, "970100", "2024-02-01", "resident.inpatient.deductible.level_3") == 123457


EXCEPTIONS = f"""\
exceptions:
  retiree_like:
    description: 学生比例提高10个百分点
    applies_to: resident.inpatient.ratio.*
    when: {{person_type: student}}
    priority: 10
    values: {{2024-01-01: {{effect: {{add: 0.10}}, {SRC}}}}}
  poor_floor:
    description: 低保对象比例不低于85%
    applies_to: resident.inpatient.ratio.*
    when: {{assistance_category: subsistence_allowance}}
    priority: 20
    values:
      2024-01-01: {{effect: {{at_least: 0.85}}, {SRC}}}
      2024-10-01: {{effect: null, {SRC}}}
"""


def test_exceptions_apply_in_priority_order_and_end_on_their_date(tmp_path: Path) -> None:
    s = load_policy_dir(city(tmp_path, RATIO + EXCEPTIONS))
    path = "resident.inpatient.ratio.level_3"
    assert value(s, "970100", "2024-08-01", path, person_type="student") == 8500
    assert value(s, "970100", "2024-08-01", path, assistance_category="subsistence_allowance") == 8500
    assert (
        value(s, "970100", "2024-08-01", path, person_type="student", assistance_category="subsistence_allowance")
        == 8500
    )
    assert value(s, "970100", "2024-10-01", path, assistance_category="subsistence_allowance") == 7500  # ended
    use = s.at("970100", date(2024, 8, 1)).resolve(path, ctx(person_type="student"), date(2024, 8, 1))
    assert [e.rule_id for e in use.exceptions] == ["retiree_like"] and use.base_shown == "0.7500"


def test_an_exception_that_does_not_fit_its_parameter_is_rejected(tmp_path: Path) -> None:
    bad = EXCEPTIONS.replace("{add: 0.10}", "{add: 0.40}")  # 0.75 + 0.40 > 1
    with pytest.raises(PolicyFileError) as e:
        load_policy_dir(city(tmp_path, RATIO + bad))
    assert e.value.path.startswith("exceptions.retiree_like") and "超出" in e.value.reason
    typo = EXCEPTIONS.replace(
        "applies_to: resident.inpatient.ratio.*\n    when: {person_type",
        "applies_to: resident.inpatent.ratio.*\n    when: {person_type",
    )
    with pytest.raises(PolicyFileError) as e2:
        load_policy_dir(city(tmp_path, RATIO + typo))
    assert e2.value.path.endswith("applies_to")
    unknown_when = EXCEPTIONS.replace("{person_type: student}", "{persontype: student}")
    with pytest.raises(PolicyFileError) as e3:
        load_policy_dir(city(tmp_path, RATIO + unknown_when))
    assert e3.value.path.endswith("when.persontype")


def test_the_shipped_tree_validates_and_every_value_is_documented(shipped: PolicySnapshot) -> None:
    rows = shipped.table()
    assert rows
    for r in rows:
        assert r.description and r.unit and r.source
        definition = definition_of(r.path)
        assert definition is not None and definition.unit == r.unit


def test_every_declared_parameter_is_documented() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "parameters.md").read_text(encoding="utf-8")
    for d in DEFINITIONS:
        assert f"`{d.pattern}`" in doc, f"docs/parameters.md does not document {d.pattern}"
        if d.kind is Kind.ENUM:
            for choice in d.choices:
                assert choice in doc


def test_snapshot_id_depends_on_content_only(tmp_path: Path) -> None:
    a = load_policy_dir(city(tmp_path / "a", RATIO))
    b = load_policy_dir(city(tmp_path / "b", RATIO))
    c = load_policy_dir(city(tmp_path / "c", RATIO.replace("0.75", "0.76")))
    assert a.id == b.id != c.id


# -- the national envelope -----------------------------------------------------------------


CI = f"""\
parameters:
  resident.critical_illness.threshold: {{description: 大病起付, unit: yuan, values: {{2022-01-01: {{value: 12000, {SRC}}}}}}}
  resident.critical_illness.bands: {{description: 大病比例, unit: scale, values: {{2022-01-01: {{value: [{{from: 0, rate: 0.60}}], {SRC}}}}}}}
  resident.critical_illness.annual_cap: {{description: 大病限额, unit: yuan, values: {{2022-01-01: {{value: 300000, {SRC}}}}}}}
"""


def test_envelope_rejects_a_low_critical_illness_ratio(tmp_path: Path) -> None:
    with pytest.raises(EnvelopeViolation) as e:
        load_policy_dir([NATIONAL, city(tmp_path, CI.replace("0.60", "0.45"), own_root=False)])
    assert e.value.file == "p/c/params.yaml"
    assert e.value.path == "parameters.resident.critical_illness.bands.values.2022-01-01.value"
    assert "50%" in e.value.reason


def test_envelope_rejects_weakening_the_protected_groups(tmp_path: Path) -> None:
    weak = (
        CI
        + f"""\
exceptions:
  protected_groups_ci_threshold:
    description: 困难群体起付线（只降低30%）
    applies_to: resident.critical_illness.threshold
    when: {{assistance_category: [extreme_poverty, subsistence_allowance, relapse_poverty]}}
    priority: 100
    values: {{2022-01-01: {{effect: {{multiply: 0.7}}, {SRC}}}}}
"""
    )
    load_policy_dir([NATIONAL, city(tmp_path / "ok", CI, own_root=False)])  # inherits the national −50%
    with pytest.raises(EnvelopeViolation) as e:
        load_policy_dir([NATIONAL, city(tmp_path / "weak", weak, own_root=False)])
    assert e.value.file == "p/c/params.yaml" and e.value.path == "exceptions.protected_groups_ci_threshold"
    assert "50%" in e.value.reason


def test_envelope_rejects_assistance_below_seventy_percent(tmp_path: Path) -> None:
    aid = f"""\
parameters:
  assistance.subsistence_allowance.ratio: {{description: 低保救助比例, unit: ratio, values: {{2023-01-01: {{value: 0.65, {SRC}}}}}}}
"""
    with pytest.raises(EnvelopeViolation) as e:
        load_policy_dir(city(tmp_path, aid))
    assert "70%" in e.value.reason and e.value.file == "p/c/params.yaml"


# -- overlays and diff -------------------------------------------------------------------------


def overlay(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "overlay.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


UNIFY = f"""\
overlay: {{description: 全省统一居民三级起付线, {SRC}}}
changes:
  - region: "970000"
    parameters:
      resident.inpatient.deductible.level_3: {{description: 全省统一, unit: yuan, values: {{2025-01-01: {{value: 500, {SRC}}}}}}}
  - descendants_of: "970000"
    unset: [resident.inpatient.deductible.*]
"""


def test_an_overlay_builds_a_new_snapshot_and_leaves_the_base_alone(tmp_path: Path) -> None:
    root = city(tmp_path, RATIO + _deductible())
    base = load_policy_dir(root)
    new = load_policy_dir(root, [overlay(tmp_path, UNIFY)])
    path = "resident.inpatient.deductible.level_3"
    assert value(base, "970100", "2025-02-01", path) == y(600)
    assert value(new, "970100", "2025-02-01", path) == y(500)
    with pytest.raises(NoPolicyInForce):  # unset removed the city's own history; the province starts in 2025
        value(new, "970100", "2024-02-01", path)
    assert base.id != new.id and new.overlays == ("全省统一居民三级起付线",)
    changes = diff_snapshots(base, new, "970100")
    assert {(c.path, c.before, c.after) for c in changes} >= {(path, "（无）", "500.00元")}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (UNIFY.replace('region: "970000"', 'region: "979900"'), "changes[0].region"),
        (
            UNIFY.replace("unset: [resident.inpatient.deductible.*]", "unset: [resident.outpatient.*]"),
            "changes[1].unset",
        ),
        (UNIFY.replace("value: 500", "value: -5"), "values.2025-01-01.value"),
        (
            UNIFY.replace(f"overlay: {{description: 全省统一居民三级起付线, {SRC}}}", "overlay: {description: x}"),
            "overlay.source",
        ),
    ],
)
def test_bad_overlays_are_rejected_before_anything_applies(tmp_path: Path, text: str, where: str) -> None:
    root = city(tmp_path, RATIO + _deductible())
    with pytest.raises(PolicyFileError) as e:
        load_policy_dir(root, [overlay(tmp_path, text)])
    assert e.value.file.endswith("overlay.yaml") and where in e.value.path


def test_an_overlay_outside_the_envelope_is_rejected(tmp_path: Path) -> None:
    root = city(tmp_path, CI, own_root=False)
    text = f"""\
    overlay: {{description: 降低大病比例, {SRC}}}
    changes:
      - region: "970100"
        parameters:
          resident.critical_illness.bands: {{description: 大病比例, unit: scale, values: {{2025-01-01: {{value: [{{from: 0, rate: 0.40}}], {SRC}}}}}}}
    """
    with pytest.raises(EnvelopeViolation) as e:
        load_policy_dir([NATIONAL, root], [overlay(tmp_path, text)])
    assert e.value.file.endswith("overlay.yaml")


def test_shipped_chaozhou_values_come_from_the_seed(shipped: PolicySnapshot) -> None:
    on = date(2024, 6, 1)
    policy = shipped.at("445102", on)
    for path, expected in (
        ("employee.inpatient.ratio.level_1", 9500),
        ("employee.inpatient.ratio.level_2", 9000),
        ("employee.inpatient.ratio.level_3", 8000),
        ("resident.inpatient.ratio.level_1", 9000),
        ("resident.inpatient.ratio.level_2", 8500),
        ("resident.inpatient.ratio.level_3", 7000),
        ("resident.critical_illness.annual_cap", y(300000)),
        ("employee.large_expense.annual_cap", y(600000)),
    ):
        use = policy.resolve(path, base_context(path.split(".")[0]), on)
        assert use.value == expected and "十四五" in use.source
    poor = policy.resolve("resident.critical_illness.threshold", base_context("resident", "subsistence_allowance"), on)
    assert poor.value == y(2000)
    outside = policy.resolve("resident.inpatient.ratio.level_3", ctx(area="province"), on)
    assert outside.value == 6000


def test_policy_files_live_in_the_repository(shipped: PolicySnapshot) -> None:
    assert (POLICIES / "README.md").exists()
    assert len(shipped.layers) >= 8


def test_unset_from_a_date_keeps_history_and_inherits_afterwards(tmp_path: Path) -> None:
    root = city(tmp_path, RATIO + _deductible())
    handover = UNIFY.replace(
        "    unset: [resident.inpatient.deductible.*]",
        "    from: 2025-01-01\n    unset: [resident.inpatient.deductible.*]",
    )
    new = load_policy_dir(root, [overlay(tmp_path, handover)])
    path = "resident.inpatient.deductible.level_3"
    assert value(new, "970100", "2024-12-31", path) == y(600)  # the city's own, before the handover
    assert value(new, "970100", "2025-01-01", path) == y(500)  # the province's, from then on
    use = new.at("970100", date(2025, 1, 1)).resolve(path, ctx(), date(2025, 1, 1))
    assert use.region == "970000"


def test_inherit_in_a_region_file_hands_a_parameter_back_to_the_parent(tmp_path: Path) -> None:
    extra = {
        "r/p/params.yaml": f"""\
            parameters:
              resident.inpatient.ratio.level_3:
                description: 全省三级比例
                unit: ratio
                values:
                  2024-01-01: {{value: 0.72, {SRC}}}
                  2026-01-01: {{value: 0.78, {SRC}}}
            """,
    }
    params = RATIO + f"      2025-07-01: {{value: inherit, {SRC}}}\n"
    s = load_policy_dir(city(tmp_path, params, extra))
    path = "resident.inpatient.ratio.level_3"
    assert [value(s, "970100", d, path) for d in ("2024-08-01", "2025-07-01", "2026-02-01")] == [7500, 7200, 7800]

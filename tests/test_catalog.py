"""Catalogue import from CSV and Excel: English or Chinese headers, every error names row and column."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from conftest import NATIONAL
from yibao.errors import CatalogError
from yibao.io.catalog_files import read_catalog
from yibao.policy.catalog import CLASS_A, CLASS_B, CLASS_C

HEADER = ["医保目录编码", "名称", "目录类别", "收费项目等级", "先行自付比例", "退休人员先行自付比例", "支付标准", "限定性别",
          "最大年龄", "限定就医类型", "最低医院等级", "限定适应症", "开始日期"]  # fmt: skip
ROWS = [
    ["X001", "阿莫西林", "药品", "甲类", "", "", "", "", "", "", "", "", ""],
    ["X002", "阿托伐他汀", "药品", "乙类", "10%", "0.08", "0.12", "", "", "", "", "否", "2024-01-01"],
    ["X003", "妇科检查", "诊疗项目", "甲", "", "", "", "女", "", "门诊；住院", "2", "", ""],
    ["X004", "美容项目", "诊疗项目", "丙类", "", "", "", "", "", "", "", "", ""],
    ["X005", "儿童药", "药品", "01", "", "", "", "", "14", "", "", "是", ""],
]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8-sig")
    return path


def write_xlsx(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_catalogue_with_chinese_headers(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"cat.{fmt}"
    (write_csv if fmt == "csv" else write_xlsx)(path, HEADER, ROWS)  # type: ignore[operator]
    items = {i.code: i for i in read_catalog(path, "445100")}
    assert [items[c].item_class for c in ("X001", "X002", "X004")] == [CLASS_A, CLASS_B, CLASS_C]
    x2 = items["X002"]
    assert (x2.self_pay_first_ratio, x2.ratio_by_person_type, x2.payment_standard) == (
        1000,
        (("retiree", 800),),
        Decimal("0.12"),
    )
    assert str(x2.valid_from) == "2024-01-01" and x2.kind == "drug" and not x2.restricted
    x3 = items["X003"]
    assert (x3.sex, x3.visit_types, x3.min_hospital_level) == ("female", frozenset({"outpatient", "inpatient"}), 2)
    assert items["X005"].age_max == 14 and items["X005"].indication_required


def test_xlsx_with_numeric_cells(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "n.xlsx", ["code", "class", "self_pay_first_ratio", "payment_standard"],
                      [["N1", 2, 0.15, 12.5]])  # fmt: skip
    (item,) = read_catalog(path, "000000")
    assert (item.item_class, item.self_pay_first_ratio, item.payment_standard) == (CLASS_B, 1500, Decimal("12.5"))


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        (["Y1", "x", "药品", "丁类", "", "", "", "", "", "", "", "", ""], "class", "甲/乙/丙"),
        (["Y1", "x", "药品", "甲类", "10%", "", "", "", "", "", "", "", ""], "self_pay_first_ratio", "只有乙类"),
        (["Y1", "x", "药品", "乙类", "1.5", "", "", "", "", "", "", "", ""], "self_pay_first_ratio", "0 与 1"),
        (["Y1", "x", "药品", "乙类", "", "", "-1", "", "", "", "", "", ""], "payment_standard", "不能为负"),
        (["Y1", "x", "药品", "乙类", "", "", "", "未知", "", "", "", "", ""], "sex", "男/女"),
        (["Y1", "x", "药品", "乙类", "", "", "", "", "x", "", "", "", ""], "age_max", "非负整数"),
        (["Y1", "x", "药品", "乙类", "", "", "", "", "", "急诊", "", "", ""], "visit_types", "住院/门诊"),
        (["Y1", "x", "药品", "乙类", "", "", "", "", "", "", "", "", "2024/13/01"], "valid_from", "YYYY-MM-DD"),
        (["", "x", "药品", "乙类", "", "", "", "", "", "", "", "", ""], "code", "缺少项目编码"),
    ],
)
def test_bad_rows_name_file_row_and_column(tmp_path: Path, row: list[str], column: str, reason: str) -> None:
    path = write_csv(tmp_path / "bad.csv", HEADER, [ROWS[0], row])
    with pytest.raises(CatalogError) as e:
        read_catalog(path, "445100")
    assert (e.value.file, e.value.row, e.value.column) == ("bad.csv", 3, column)
    assert reason in e.value.reason


def test_duplicate_codes_and_unknown_columns_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as e:
        read_catalog(write_csv(tmp_path / "d.csv", HEADER, [ROWS[0], ROWS[0]]), "445100")
    assert e.value.row == 3 and "重复" in e.value.reason
    with pytest.raises(CatalogError) as e2:
        read_catalog(write_csv(tmp_path / "u.csv", ["code", "class", "colour"], [["Z", "甲", "red"]]), "445100")
    assert e2.value.column == "colour"


def test_a_missing_catalogue_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="目录文件不存在") as e:
        read_catalog(tmp_path / "nowhere.csv", "445100")
    assert e.value.file == "nowhere.csv"
    done = subprocess.run([str(Path(sys.executable).parent / "yibao"), "batch", "settle", "--claims", str(tmp_path),
                           "--persons", str(tmp_path / "p.parquet"), "--out", str(tmp_path / "o"),
                           "--catalog", f"445100={tmp_path / 'nowhere.csv'}"], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 2 and "目录文件不存在" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists()


def test_the_shipped_sample_catalogue_loads() -> None:
    items = read_catalog(NATIONAL / "catalog" / "sample.csv", "000000")
    assert len(items) >= 10 and {i.item_class for i in items} == {CLASS_A, CLASS_B, CLASS_C}

"""Read catalogue files (CSV or Excel ``.xlsx``) into :class:`CatalogItem` rows.

The first row is the header, in English (``code, name, kind, class, …``) or in the
Chinese an agency's export uses (``医保目录编码, 名称, 收费项目等级, 先行自付比例, 支付标准 …``);
see :data:`yibao.policy.catalog.HEADER_ALIASES`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path

from yibao.errors import CatalogError
from yibao.policy.catalog import COLUMNS, PERSON_RATIO_PREFIX, CatalogItem, canonical_header, parse_row

SUFFIXES = (".csv", ".xlsx")


def _rows_csv(path: Path) -> Iterator[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        yield from csv.reader(f)


def _rows_xlsx(path: Path) -> Iterator[list[object]]:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb.worksheets[0]
        for row in ws.iter_rows(values_only=True):
            yield ["" if v is None else v for v in row]
    finally:
        wb.close()


def read_catalog(path: Path, region: str, label: str | None = None) -> list[CatalogItem]:
    """All items of one catalogue file; the first invalid row raises :class:`CatalogError`."""
    name = label or path.name
    if not path.is_file():
        raise CatalogError(name, 0, "", f"目录文件不存在：{path}")
    if path.suffix.lower() == ".csv":
        rows: Iterator[list[object]] = iter(list(r) for r in _rows_csv(path))
    elif path.suffix.lower() == ".xlsx":
        rows = _rows_xlsx(path)
    else:
        raise CatalogError(name, 0, "", f"不支持的目录文件格式 {path.suffix}（支持 .csv 与 .xlsx）")
    header_row = next(rows, None)
    if header_row is None:
        raise CatalogError(name, 1, "", "文件为空，缺少表头")
    header = [canonical_header(str(h)) for h in header_row]
    if "code" not in header or "class" not in header:
        raise CatalogError(name, 1, "", "表头至少需要 code（医保目录编码）与 class（收费项目等级）")
    items: list[CatalogItem] = []
    seen: dict[tuple[str, object], int] = {}
    for line, raw in enumerate(rows, start=2):
        if all(str(v).strip() == "" for v in raw):
            continue
        if len(raw) > len(header):
            raise CatalogError(name, line, "", "列数多于表头")
        record = {h: v for h, v in zip(header, raw, strict=False) if h}
        item = parse_row(record, name, line, region)
        key = (item.code, item.valid_from)
        if key in seen:
            raise CatalogError(name, line, "code", f"项目 {item.code} 与第 {seen[key]} 行重复")
        seen[key] = line
        items.append(item)
    return items


def write_catalog(path: Path, items: Iterable[CatalogItem]) -> int:
    """Write ``items`` as a catalogue CSV that :func:`read_catalog` reads back to the same items
    (English headers; ratios as decimals; dates ISO). Returns the number of rows."""
    rows = list(items)
    kinds = sorted({t for item in rows for t, _ in item.ratio_by_person_type})
    header = [*COLUMNS, *(f"{PERSON_RATIO_PREFIX}{t}" for t in kinds)]

    def ratio(bp: int | None) -> str:
        return "" if bp is None else str(Decimal(bp).scaleb(-4))

    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i in rows:
            by_type = dict(i.ratio_by_person_type)
            cells = {
                "code": i.code, "name": i.name, "kind": i.kind, "class": f"0{i.item_class}",
                "self_pay_first_ratio": ratio(i.self_pay_first_ratio),
                "payment_standard": "" if i.payment_standard is None else str(i.payment_standard),
                "sex": i.sex or "", "age_min": "" if i.age_min is None else str(i.age_min),
                "age_max": "" if i.age_max is None else str(i.age_max),
                "visit_types": ";".join(sorted(i.visit_types)) if i.visit_types else "",
                "min_hospital_level": "" if i.min_hospital_level is None else str(i.min_hospital_level),
                "indication_required": "1" if i.indication_required else "",
                "valid_from": i.valid_from.isoformat() if i.valid_from else "",
                "valid_to": i.valid_to.isoformat() if i.valid_to else "",
            }  # fmt: skip
            w.writerow([cells.get(h, ratio(by_type.get(h[len(PERSON_RATIO_PREFIX) :]))) for h in header])
    return len(rows)

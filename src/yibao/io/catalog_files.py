"""Read catalogue files (CSV or Excel ``.xlsx``) into :class:`CatalogItem` rows.

The first row is the header, in English (``code, name, kind, class, …``) or in the
Chinese an agency's export uses (``医保目录编码, 名称, 收费项目等级, 先行自付比例, 支付标准 …``);
see :data:`yibao.policy.catalog.HEADER_ALIASES`.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from yibao.errors import CatalogError
from yibao.policy.catalog import CatalogItem, canonical_header, parse_row

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

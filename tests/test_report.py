"""The demo's HTML report: figures, self-containment, masking, input errors, and a real browser.

Expected strings are worked out here from :func:`sample_data` with the test's own formatting
(``_wan``, ``_pct``), not copied from the page. The browser test needs Chromium
(``scripts/ensure-chromium.sh``); it is skipped without one unless ``YIBAO_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from yibao.errors import InputError
from yibao.report import render_report, write_report
from yibao.report.sample import sample_data

SECTIONS = ("summary", "indicators", "monthly", "by-level", "by-age", "by-visit-type", "burdens", "calibration")
#: the input key behind each section of the page
SECTION_KEYS = {
    "summary": "summary",
    "indicators": "indicators",
    "monthly": "monthly",
    "by-level": "by_level",
    "by-age": "by_age",
    "by-visit-type": "by_visit_type",
    "burdens": "heaviest_burdens",
    "calibration": "calibration",
}
ID_NUMBER = re.compile(r"(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9])")


# --- the test's own formatting ------------------------------------------------------------------


def _q(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _wan(amount: object) -> str:
    """Yuan as 万元 with two decimals and separators: ``14220000.00`` → ``1,422.00 万元``."""
    return f"{_q(Decimal(str(amount)) / 10_000):,} 万元"


def _wan_bare(amount: object) -> str:
    return f"{_q(Decimal(str(amount)) / 10_000):,}"


def _pct(share: object) -> str:
    return f"{_q(Decimal(str(share)) * 100)}%"


def _yuan(amount: object) -> str:
    return f"{_q(Decimal(str(amount))):,}"


# --- reading the page ---------------------------------------------------------------------------


class _Page(HTMLParser):
    """Text by section, table rows by table id, and every tag with its attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.sections: dict[str, list[str]] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.title = ""
        self._section: str | None = None
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self._in_title = self._in_style = False
        self.style = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "section":
            self._section = attributes.get("id")
            self.sections[self._section or ""] = []
        elif tag == "table":
            self._table = attributes.get("id")
            self.tables[self._table or ""] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "title" and not self.title:
            self._in_title = True
        elif tag == "style":
            self._in_style = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._section = None
        elif tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "title":
            self._in_title = False
        elif tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data
            return
        if self._in_title:
            self.title += data
        self.text.append(data)
        if self._section:
            self.sections[self._section].append(data)
        if self._cell is not None:
            self._cell.append(data)

    def section(self, key: str) -> str:
        return "".join(self.sections[key])

    def row(self, table: str, first: str) -> list[str]:
        matches = [r for r in self.tables[f"table-{table}"] if r and r[0] == first]
        assert len(matches) == 1, f"table-{table}: {len(matches)} rows start with {first!r}"
        return matches[0]


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


@pytest.fixture
def data() -> dict[str, Any]:
    return sample_data()


@pytest.fixture
def page(data: dict[str, Any]) -> _Page:
    return parse(render_report(data))


# --- (a) the figures ----------------------------------------------------------------------------


def test_headline_figures(data: dict[str, Any], page: _Page) -> None:
    summary, meta = data["summary"], data["meta"]
    cards = page.section("summary")
    assert f"{summary['insured_total']:,} 人" in cards
    assert f"职工 {summary['insured_employee']:,} 人" in cards
    assert f"居民 {summary['insured_resident']:,} 人" in cards
    city_wide = Decimal(summary["insured_total"]) / Decimal(str(meta["scale"]))
    assert f"折算全市约 {_q(city_wide / 10_000):,} 万人" in cards
    income, spending = summary["fund_income_yuan"], summary["fund_expenditure_yuan"]
    assert _wan(income["total"]) in cards
    assert f"职工 {_wan(income['employee'])} · 居民 {_wan(income['resident'])}" in cards
    assert _wan(spending["total"]) in cards
    assert _wan(Decimal(income["total"]) - Decimal(spending["total"])) in cards
    shares = summary["policy_range_inpatient_fund_share"]
    assert _pct(shares["employee"]) == "85.20%"  # the sample is what the brief quotes
    assert _pct(shares["employee"]) in cards
    assert _pct(shares["resident"]) in cards
    assert _pct(summary["assistance_share_for_key_groups"]) in cards
    assert f"{summary['settlements_total']:,} 笔" in cards
    per_capita = summary["per_capita"]
    assert f"{_yuan(per_capita['income_yuan'])} 元" in cards


def test_header(data: dict[str, Any], page: _Page) -> None:
    meta = data["meta"]
    assert meta["city"] in page.title and str(meta["year"]) in page.title
    text = "".join(page.text)
    for value in (meta["city"], meta["region"], meta["policy_snapshot"], meta["yibao_version"]):
        assert value in text
    assert f"随机种子{meta['seed']}" in text
    scale = Decimal(str(meta["scale"]))
    assert f"抽样比例{(scale * 100).normalize():f}%（约 1:{1 / scale:,.0f}）" in text
    assert meta["generated_at"].replace("T", " ") in text


def test_monthly_table_adds_up(data: dict[str, Any], page: _Page) -> None:
    assert "万元" in page.section("monthly")
    income_year = spending_year = Decimal(0)
    for month in data["monthly"]:
        income = sum(Decimal(v) for v in month["income_yuan"].values())
        spending = sum(Decimal(v) for v in month["expenditure_yuan"].values())
        income_year += income
        spending_year += spending
        row = page.row("monthly", month["month"])
        assert row[1] == _wan_bare(month["income_yuan"]["employee"])
        assert row[3] == _wan_bare(income)
        assert row[6] == _wan_bare(spending)
        assert row[7] == _wan_bare(income - spending)
    year = page.row("monthly", "全年合计")
    assert year[3] == _wan_bare(data["summary"]["fund_income_yuan"]["total"]) == _wan_bare(income_year)
    assert year[6] == _wan_bare(data["summary"]["fund_expenditure_yuan"]["total"]) == _wan_bare(spending_year)
    svg = [attrs for tag, attrs in page.tags if tag == "svg"]
    assert len(svg) == 4  # monthly, by level, by age, by visit type
    bars = [attrs for tag, attrs in page.tags if tag == "rect"]
    assert len(bars) >= 12 * 4  # every month has four bars


def test_breakdowns(data: dict[str, Any], page: _Page) -> None:
    levels = page.tables["table-by-level"][1:]
    assert len(levels) == len(data["by_level"])
    first = data["by_level"][0]
    assert levels[0][:3] == [
        first["level"],
        {"employee": "职工", "resident": "居民"}[first["scheme"]],
        f"{first['visits']:,}",
    ]
    assert levels[0][4] == _wan(first["fund_yuan"])
    for group in data["by_age"]:
        row = page.row("by-age", group["age_group"])
        assert row[1] == f"{group['insured']:,}"
        per_capita = Decimal(group["total_yuan"]) / group["insured"]
        assert row[5] == f"{_yuan(per_capita)} 元"
        assert row[6] == f"{_yuan(Decimal(group['fund_yuan']) / group['insured'])} 元"
    for kind in data["by_visit_type"]:
        row = page.row("by-visit-type", kind["visit_type"])
        assert row[1] == f"{kind['settlements']:,}"
        assert row[4] == _wan(kind["personal_yuan"])
    burdens = page.tables["table-burdens"][1:]
    assert len(burdens) == len(data["heaviest_burdens"])
    top = data["heaviest_burdens"][0]
    assert burdens[0][1:3] == [top["psn_no_masked"], top["name_masked"]]
    assert burdens[0][8] == _yuan(top["personal_yuan"])
    assert burdens[0][9] == _pct(top["personal_share"])


def test_indicators_and_calibration(data: dict[str, Any], page: _Page) -> None:
    for indicator in data["indicators"]:
        row = [r for r in page.tables["table-indicators"] if len(r) > 1 and r[1] == indicator["name"]]
        assert len(row) == 1 and row[0][3] == indicator["value"]
    rows = page.tables["table-calibration"][1:]
    assert len(rows) == len(data["calibration"])
    for target, row in zip(data["calibration"], rows, strict=True):
        assert row[0] == target["metric"] and row[1] == target["target"] and row[2] == target["result"]
        assert row[5] == target["tolerance"]
        assert ("未达标" if not target["ok"] else "达标") in row[6]
        assert (row[6] == "✓ 达标") is target["ok"]
    passed = sum(1 for t in data["calibration"] if t["ok"])
    assert f"{len(data['calibration'])} 项中 {passed} 项在容差范围内" in page.section("calibration")
    # a percentage metric with an absolute tolerance shows its deviation in 百分点
    missed = next(t for t in data["calibration"] if not t["ok"])
    row = next(r for r in rows if r[0] == missed["metric"])
    gap = _q(Decimal(missed["result"]) - Decimal(missed["target"]))
    assert row[4] == f"{gap} 个百分点"
    assert "✓ 一致" in page.section("calibration") and "✗ 不一致" not in page.section("calibration")


def test_inconsistent_parts_are_flagged(data: dict[str, Any]) -> None:
    data["monthly"][0]["income_yuan"]["employee"] = "0.00"
    section = parse(render_report(data)).section("calibration")
    assert "✗ 不一致" in section and "月度基金收入合计" in section


def test_rendering_is_deterministic_and_escaped(data: dict[str, Any]) -> None:
    assert render_report(data) == render_report(sample_data())
    data["meta"]["city"] = "<script>alert(1)</script>"
    data["indicators"][0]["note"] = '"><img src=x onerror=alert(1)>'
    html = render_report(data)
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_write_report(tmp_path: Path, data: dict[str, Any]) -> None:
    target = tmp_path / "out" / "report.html"
    assert write_report(data, target) == target
    assert target.read_text(encoding="utf-8") == render_report(data)
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]
    data["summary"]["insured_total"] = "many"
    with pytest.raises(InputError):
        write_report(data, tmp_path / "bad.html")
    assert not (tmp_path / "bad.html").exists()


# --- (b) self-contained -------------------------------------------------------------------------


def test_no_external_resources(page: _Page) -> None:
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed", "video", "audio", "image", "use"}
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            assert name not in ("src", "srcset", "xlink:href", "action"), f"<{tag} {name}={value!r}>"
            if name == "href":
                assert value and value.startswith("#"), f"<{tag} href={value!r}> is not an in-page link"
            if name == "style":
                assert "url(" not in (value or "")
    assert "url(" not in page.style and "@import" not in page.style and "@font-face" not in page.style
    assert "http" not in page.style


def test_every_in_page_link_has_a_target(page: _Page) -> None:
    ids = {attrs.get("id") for _, attrs in page.tags}
    links = [attrs["href"] for tag, attrs in page.tags if tag == "a" and attrs.get("href")]
    assert links and all(link is not None and link[1:] in ids for link in links)


# --- (c) masking ----------------------------------------------------------------------------------


def test_identifiers_are_masked_whatever_arrives(data: dict[str, Any]) -> None:
    certno, name = "445102198507153216", "林晓东"
    data["heaviest_burdens"][0]["psn_no_masked"] = certno
    data["heaviest_burdens"][0]["name_masked"] = name
    data["heaviest_burdens"][1] = {**data["heaviest_burdens"][1], "psn_no": "44510200000777", "name": "欧阳娜娜"}
    del data["heaviest_burdens"][1]["psn_no_masked"], data["heaviest_burdens"][1]["name_masked"]
    data["heaviest_burdens"][2]["category"] = f"低保（身份证 {certno}）"  # leaked into free text
    html = render_report(data)
    for secret in (certno, name, "44510200000777", "欧阳娜娜", "晓东"):
        assert secret not in html
    assert not ID_NUMBER.search(html)
    rows = parse(html).tables["table-burdens"]
    assert rows[1][1:3] == ["4451**********3216", "林*东"]
    assert rows[2][1:3] == ["4451******0777", "欧**娜"]


def test_sample_page_has_no_id_numbers(page: _Page) -> None:
    assert not ID_NUMBER.search("".join(page.text))


# --- (d) wrong types --------------------------------------------------------------------------------


def _set(data: dict[str, Any], path: tuple[Any, ...], value: object) -> None:
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("summary", "fund_income_yuan", "total"), [1], "summary.fund_income_yuan.total"),
        (("summary", "fund_income_yuan", "total"), "12,34x", "summary.fund_income_yuan.total"),
        (("summary", "insured_total"), 13315.5, "summary.insured_total"),
        (("summary", "policy_range_inpatient_fund_share"), "0.85", "summary.policy_range_inpatient_fund_share"),
        (("summary",), [], "summary"),
        (("meta", "scale"), True, "meta.scale"),
        (("meta", "scale"), 0, "meta.scale"),
        (("monthly",), "2020-01", "monthly"),
        (("monthly", 3, "expenditure_yuan", "resident"), {"yuan": 1}, "monthly[3].expenditure_yuan.resident"),
        (("by_age", 2, "insured"), "many", "by_age[2].insured"),
        (("by_level", 0), "基层", "by_level[0]"),
        (("calibration", 1, "ok"), "yes", "calibration[1].ok"),
        (("heaviest_burdens", 4, "name_masked"), ["张*"], "heaviest_burdens[4].name_masked"),
        (("indicators", 0, "value"), {"v": 1}, "indicators[0].value"),
    ],
)
def test_wrong_type_names_the_path(data: dict[str, Any], path: tuple[Any, ...], value: object, field: str) -> None:
    _set(data, path, value)
    with pytest.raises(InputError) as caught:
        render_report(data)
    assert caught.value.field == field
    assert field in str(caught.value)


def test_lenient_about_number_forms(data: dict[str, Any]) -> None:
    data["summary"]["insured_total"] = "13315"
    data["summary"]["fund_income_yuan"]["total"] = 14220000
    data["meta"]["scale"] = "0.005"
    cards = parse(render_report(data)).section("summary")
    assert "13,315 人" in cards and "1,422.00 万元" in cards


# --- (e) absent sections --------------------------------------------------------------------------


@pytest.mark.parametrize("section", SECTIONS)
@pytest.mark.parametrize("absent", ["missing", "null", "empty"])
def test_absent_section_says_no_data(data: dict[str, Any], section: str, absent: str) -> None:
    key = SECTION_KEYS[section]
    if absent == "missing":
        del data[key]
    else:
        data[key] = None if absent == "null" else ({} if key == "summary" else [])
    page = parse(render_report(data))
    assert "无数据" in page.section(section)
    for other in SECTIONS:
        if other != section:
            assert "无数据" not in page.section(other), other


def test_empty_input_renders() -> None:
    page = parse(render_report({}))
    for section in SECTIONS:
        assert "无数据" in page.section(section)
    assert "基本医疗保险运行报告" in page.title


def test_missing_figures_show_a_dash(data: dict[str, Any]) -> None:
    del data["summary"]["fund_income_yuan"], data["summary"]["assistance_share_for_key_groups"]
    del data["by_age"][0]["per_capita_yuan"]
    page = parse(render_report(data))
    assert "—" in page.section("summary")
    group = data["by_age"][0]
    assert page.row("by-age", group["age_group"])[5] == "—"


def test_negative_and_zero_amounts_draw(data: dict[str, Any]) -> None:
    data["monthly"][1]["expenditure_yuan"]["resident"] = "-1200.50"  # a month of cancellations
    for row in data["by_visit_type"]:
        row.update(total_yuan="0.00", fund_yuan="0.00", personal_yuan="0.00")
    page = parse(render_report(data))
    assert "-0.12" in page.row("monthly", data["monthly"][1]["month"])[5]
    assert "各项均为零" in "".join(page.text)


# --- (f) a real browser -----------------------------------------------------------------------------


def _require_browser() -> str:
    """The Chromium binary; skips without one, or fails where ``YIBAO_REQUIRE_BROWSER=1`` (CI)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "Chromium 不在 PATH 上（运行 scripts/ensure-chromium.sh 安装）"
        if os.environ.get("YIBAO_REQUIRE_BROWSER") == "1":
            pytest.fail(f"YIBAO_REQUIRE_BROWSER=1 but {message}")
        pytest.skip(message)
    return found


@pytest.fixture
def browser() -> str:
    return _require_browser()


@pytest.mark.parametrize(("required", "outcome"), [("1", pytest.fail.Exception), ("", pytest.skip.Exception)])
def test_missing_browser_fails_only_where_required(
    monkeypatch: pytest.MonkeyPatch, required: str, outcome: type[BaseException]
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setenv("YIBAO_REQUIRE_BROWSER", required)
    with pytest.raises(outcome):
        _require_browser()


def _chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        browser,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_page_in_headless_chromium(browser: str, tmp_path: Path, data: dict[str, Any]) -> None:
    target = write_report(data, tmp_path / "report.html")
    url = target.resolve().as_uri()

    dumped = _chromium(browser, tmp_path / "profile", "--dump-dom", url)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = parse(dumped.stdout)
    summary = data["summary"]
    cards = dom.section("summary")
    assert f"{summary['insured_total']:,} 人" in cards
    assert _wan(summary["fund_income_yuan"]["total"]) in cards
    assert _pct(summary["policy_range_inpatient_fund_share"]["employee"]) in cards
    assert dom.row("monthly", "全年合计")[3] == _wan_bare(summary["fund_income_yuan"]["total"])
    assert len(dom.tables["table-burdens"]) == len(data["heaviest_burdens"]) + 1
    assert sum(1 for tag, _ in dom.tags if tag == "svg") == 4

    shot = tmp_path / "report.png"
    taken = _chromium(browser, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,4000", url)
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.is_file()
    image = shot.read_bytes()
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(image[16:20], "big"), int.from_bytes(image[20:24], "big")
    assert (width, height) == (1280, 4000)
    assert len(image) > 100_000, f"screenshot is only {len(image)} bytes: a blank page?"

"""Batch files read straight into DuckDB for the vectorised executor, checked as the scalar readers check.

A city-year has tens of millions of claims and hundreds of millions of fee lines: they never become
Python objects. Columns are read by DuckDB from Parquet (or CSV) and checked in SQL; the columns with
few distinct values (visit type, level, flags, classes, scheme, person type, age, sex, category) are
mapped by passing each *distinct* value through the scalar reader's own parser
(:class:`yibao.io.fields.Fields`), so both readers accept and refuse the same values. The first bad
row stops the run with ``file:row:column`` and the reason, and nothing is written. Lines stay a view
over the file (the fee split streams them); claims and persons become tables.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from yibao.batch.vector_chain import STATE
from yibao.errors import InputError
from yibao.io.batch_files import CLAIM_COLUMNS, LINE_COLUMNS, MONEY, PERSON_COLUMNS, ci_cap_raise, find_input
from yibao.io.claim_json import ACCOUNT_FLAGS, CLASSES, INSUTYPES, person_type_of, read_state
from yibao.io.fields import Fields
from yibao.policy.schema import CATEGORIES

VISITS = ("inpatient", "outpatient", "chronic", "pharmacy")


def _source(
    con: duckdb.DuckDBPyConnection, view: str, path: Path, name: str, required: tuple[str, ...]
) -> dict[str, str]:
    """A view over the file with ``_row`` (the row as the scalar reader counts it: header = 1).

    ``path`` may be a glob over Parquet parts (the Spark engine's buckets); parts that carry a
    ``_row`` column keep it: it is the row in the original file ``name``, so errors point there."""
    p = str(path).replace("'", "''")
    try:
        if path.suffix == ".csv":
            src = f"SELECT *, row_number() OVER () + 1 AS _row FROM read_csv('{p}', all_varchar = true, header = true)"
        elif "_row" in {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{p}')").fetchall()}:
            src = f"SELECT * FROM read_parquet('{p}', hive_partitioning = false)"
        else:
            src = f"SELECT * EXCLUDE (file_row_number), file_row_number + 2 AS _row FROM read_parquet('{p}', file_row_number = true)"
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {src}")
        described = con.execute(f"DESCRIBE {view}").fetchall()
    except duckdb.Error as e:
        raise InputError(name, f"不是可读的 {path.suffix[1:]} 文件：{e}") from None
    columns = {column: str(kind) for column, kind, *_ in described}
    missing = [c for c in required if c not in columns]
    if missing:
        raise InputError(name, f"缺少列：{'、'.join(missing)}")
    for column, kind in columns.items():
        if column in MONEY and kind in ("FLOAT", "DOUBLE"):
            raise InputError(f"{name}:{column}", "金额列不能是二进制浮点数，请用 decimal、字符串或整数（元）")
    del columns["_row"]
    return columns


#: column types DuckDB reads as exact numbers: used as they are (no round trip through text)
_EXACT = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")


class Checker:
    """The checks of one file. Row checks are collected and run together in one scan (:meth:`flush`);
    the first check in the order they were stated that any row fails is refused at its first row,
    as the scalar reader would refuse it."""

    def __init__(self, con: duckdb.DuckDBPyConnection, view: str, name: str, columns: dict[str, str]) -> None:
        self.con, self.view, self.name, self.columns = con, view, name, columns
        self.pending: list[tuple[int, str, str, str]] = []
        self.deferred: list[tuple[int, Callable[[], None]]] = []
        self.stated = 0
        self.distinct: dict[str, tuple[list[Any], bool]] = {}

    def first(self, bad: str, column: str, reason: str) -> None:
        """Refuse the first row where ``bad`` holds (checked at the next :meth:`flush`)."""
        self.pending.append((self.stated, bad, column, reason))
        self.stated += 1

    def defer(self, check: Callable[[], None]) -> None:
        """A check made later, in passing, by a query that reads the rows anyway (it raises when it
        fails). Should a check stated after it fail first, ``check`` runs before that refusal: the
        order of refusals is the order of statement, whichever query finds them."""
        self.deferred.append((self.stated, check))
        self.stated += 1

    def flush(self) -> None:
        if not self.pending:
            return
        checks, self.pending = self.pending, []
        found = self.con.execute(
            "SELECT " + ", ".join(f"min(_row) FILTER (WHERE {bad})" for _, bad, _, _ in checks) + f" FROM {self.view}"
        ).fetchone()
        assert found is not None
        for row, (stated, _, column, reason) in zip(found, checks, strict=True):
            if row is not None:
                for _, check in (d for d in self.deferred if d[0] < stated):
                    check()
                raise InputError(f"{self.name}:{row}:{column}", reason)

    def exact(self, column: str) -> bool:
        """The file stores the column as an exact number (Parquet DECIMAL or integer)."""
        kind = self.columns.get(column, "")
        return kind.startswith("DECIMAL") or kind in _EXACT

    def prefetch(self, *columns: str) -> None:
        """The distinct values of low-cardinality columns (all in one scan), each with its text as the
        scalar reader sees it (trimmed; blank is empty)."""
        present = [c for c in columns if c in self.columns]
        if not present:
            return
        parts = [f"list(DISTINCT {c}) FILTER (WHERE {c} IS NOT NULL), bool_or({c} IS NULL)" for c in present]
        found = self.con.execute(f"SELECT {', '.join(parts)} FROM {self.view}").fetchone()
        assert found is not None
        for i, column in enumerate(present):
            values = found[2 * i] or []
            (texts,) = self.con.execute(f"SELECT list_transform(?::{self.columns[column]}[], lambda v: {_raw('v')})",
                                        [values]).fetchone() or ([],)  # fmt: skip
            self.distinct[column] = (list(zip(values, texts, strict=True)), bool(found[2 * i + 1]))

    def text(self, column: str, default: str = "''") -> str:
        return f"CAST({column} AS VARCHAR)" if column in self.columns else default

    def mapped(self, column: str, parse: Callable[[Any], Any], default: str = "NULL") -> str:
        """A SQL CASE giving each distinct value what the scalar parser makes of its text.

        The CASE compares the column as the file stores it (an integer, a boolean, text as it is), not
        its trimmed text: no cast and trim per row (at 170 M fee lines, a second or more a column)."""
        if column not in self.columns:
            return default
        if column not in self.distinct:
            self.prefetch(column)
        pairs, has_null = self.distinct[column]
        texts = sorted({t for _, t in pairs if t is not None})
        blank = has_null or any(t is None for _, t in pairs)
        parsed: dict[str, Any] = {}
        for text in [*texts, *([None] if blank else [])]:
            try:
                value = parse(text)
            except InputError as e:
                self.flush()  # a check stated earlier fails first
                where = "IS NULL" if text is None else "= " + _lit(text)
                self.first(f"{_raw(column)} {where}", column, e.reason)
                self.flush()
                raise
            if text is not None:
                parsed[text] = value
        try:
            null = _lit(parse(None))
        except InputError:  # no row is empty here (an empty one was refused above)
            null = "NULL"
        kind = self.columns[column]
        cases = [f"WHEN {_stored(v, kind)} THEN {_lit(parsed[t])}" for v, t in pairs if t is not None]
        return f"CASE {column} {' '.join(cases)} ELSE {null} END" if cases else null

    def fen(self, column: str, required: bool = False) -> str:
        """A yuan column in fen: exact, at most two decimals."""
        if column not in self.columns:
            if required:
                raise InputError(f"{self.name}:{column}", "缺少必填金额")
            return "0"
        if self.exact(column):
            value = column
        else:
            value = f"TRY_CAST(CAST({column} AS VARCHAR) AS DECIMAL(38, 4))"
            self.first(f"{column} IS NOT NULL AND {value} IS NULL", column, "应为金额（元）")
        if not self.exact(column) or _scale(self.columns[column]) > 2:
            self.first(f"{value} * 100 <> round({value} * 100)", column, "金额最多两位小数")
        if required:
            self.first(f"{column} IS NULL", column, "缺少必填金额")
        return f"coalesce(CAST({value} * 100 AS BIGINT), 0)"

    def day(self, column: str, required: bool = False) -> str:
        if column not in self.columns:
            return "NULL::DATE"
        if self.columns[column] == "DATE":
            value = column
        else:
            value = f"TRY_CAST(NULLIF(trim(CAST({column} AS VARCHAR)), '') AS DATE)"
            self.first(f"NULLIF(trim(CAST({column} AS VARCHAR)), '') IS NOT NULL AND {value} IS NULL", column,
                       "日期格式应为 YYYY-MM-DD")  # fmt: skip
        if required:
            self.first(f"{value} IS NULL", column, "缺少日期")
        return value


def _scale(kind: str) -> int:
    """The scale of a DECIMAL(p,s) type name (0 for an integer type)."""
    return int(kind.rstrip(")").split(",")[1]) if kind.startswith("DECIMAL") else 0


def _raw(column: str) -> str:
    return f"NULLIF(trim(CAST({column} AS VARCHAR)), '')"


def _stored(value: object, kind: str) -> str:
    """A literal of the column's own type (``kind``, as DESCRIBE names it)."""
    if kind == "VARCHAR":
        return _lit(str(value))
    if kind == "BOOLEAN" or kind in _EXACT:
        return _lit(value)
    return f"CAST({_lit(str(value))} AS {kind})"


def _lit(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _parse(kind: Callable[[Fields], Any]) -> Callable[[Any], Any]:
    return lambda v: kind(Fields({} if v is None else {"x": v}, ""))


_flag = _parse(lambda f: f.flag("x"))
_SEX = {"1": "male", "2": "female", "male": "male", "female": "female", "男": "male", "女": "female"}


def _level(required: bool) -> Callable[[Any], Any]:
    def parse(f: Fields) -> int | None:
        value = f.integer("x", required=required)
        if value is not None and value not in (0, 1, 2, 3):
            raise InputError("x", f"医院等级应为 0（基层）到 3：{value}")
        return value

    return _parse(parse)


def _claims(con: duckdb.DuckDBPyConnection, path: Path, name: str) -> None:
    ck = Checker(con, "claims_raw", name, _source(con, "claims_raw", path, name, CLAIM_COLUMNS))
    ck.prefetch("visit_type", "acct_used_flag", "hospital_level", "day_surgery", "filed", "transfer_from_level")
    for column in ("claim_id", "person_id", "insured_region"):
        ck.first(f"NULLIF(trim(CAST({column} AS VARCHAR)), '') IS NULL", column, "缺少必填字段")
    ck.first("claim_id IN (SELECT claim_id FROM claims_raw GROUP BY claim_id HAVING count(*) > 1)", "claim_id",
             "理赔编号重复")  # fmt: skip
    for column in ("insured_region", "treatment_region"):
        if column in ck.columns:
            ck.first(f"{column} IS NOT NULL AND NOT regexp_full_match(CAST({column} AS VARCHAR), '[0-9]{{6}}')",
                     column, "医保区划代码应为6位数字")  # fmt: skip
    visit = ck.mapped("visit_type", _parse(lambda f: f.choice("x", {v: v for v in VISITS})))
    admission, discharge = ck.day("admission_date"), ck.day("discharge_date")
    settled = ck.day("settlement_date", required=True)
    ck.first(f"{visit} = 'inpatient' AND {admission} IS NULL AND {discharge} IS NULL", "admission_date", "缺少日期")
    ck.first(f"{discharge} < {admission}", "discharge_date", "出院日期早于入院日期")
    ck.first(f"{visit} = 'chronic' AND NULLIF({ck.text('disease')}, '') IS NULL", "disease", "缺少必填字段")
    account = ck.mapped("acct_used_flag", _parse(lambda f: ACCOUNT_FLAGS[f.choice("x", {k: k for k in ACCOUNT_FLAGS},
                                                                                   required=False) or "1"]))  # fmt: skip
    mutual = ck.fen("mutual_aid_balance")
    if "mutual_aid_balance" in ck.columns:
        ck.first(f"{account} = 2 AND mutual_aid_balance IS NULL", "mutual_aid_balance", "缺少必填金额")
    else:
        ck.first(f"{account} = 2", "mutual_aid_balance", "缺少必填金额")
    reverses = f"NULLIF(trim({ck.text('reverses', 'NULL')}), '')"
    level, day_surgery = ck.mapped("hospital_level", _level(True)), ck.mapped("day_surgery", _flag, "FALSE")
    filed, transfer = ck.mapped("filed", _flag, "FALSE"), ck.mapped("transfer_from_level", _level(False))
    ck.flush()
    con.execute(f"""CREATE OR REPLACE TABLE claims AS
        SELECT * FROM (SELECT _row, CAST(claim_id AS VARCHAR) AS claim_id, CAST(person_id AS VARCHAR) AS person_id,
                     CAST(insured_region AS VARCHAR) AS insured_region,
                     coalesce(NULLIF({ck.text("treatment_region")}, ''), CAST(insured_region AS VARCHAR))
                       AS treatment_region,
                     ({visit})::VARCHAR AS visit_type, {level}::INTEGER AS level,
                     {settled} AS settlement_date, {admission} AS admission_date, {discharge} AS discharge_date,
                     coalesce({ck.text("disease")}, '') AS disease,
                     ({day_surgery})::BOOLEAN AS day_surgery, ({filed})::BOOLEAN AS filed, {transfer}::INTEGER AS transfer_from,
                     {account}::INTEGER AS account_use, {mutual} AS mutual_aid_balance, {reverses} AS reverses
              FROM claims_raw)""")


def _lines(con: duckdb.DuckDBPyConnection, path: Path, name: str) -> None:
    ck = Checker(con, "lines_raw", name, _source(con, "lines_raw", path, name, LINE_COLUMNS))
    ck.prefetch("declared_class", "indication_met")
    ck.first("NULLIF(trim(CAST(item_code AS VARCHAR)), '') IS NULL", "item_code", "缺少必填字段")
    # exact numbers in the file are used as they are; text goes through an exact DECIMAL
    price = "price" if ck.exact("price") else "TRY_CAST(CAST(price AS VARCHAR) AS DECIMAL(38, 12))"
    quantity = "quantity" if ck.exact("quantity") else "TRY_CAST(CAST(quantity AS VARCHAR) AS DECIMAL(38, 12))"
    ck.first(f"{price} IS NULL", "price", "应为数值")
    ck.first(f"{price} < 0", "price", "单价不能为负")
    ck.first(f"{quantity} IS NULL", "quantity", "应为数值")
    half_up = f"CAST(round({price} * {quantity} * 100) AS BIGINT)"  # DECIMAL round: half away from zero
    amount = ck.fen("amount") if "amount" in ck.columns else "0"
    amount = f"CASE WHEN amount IS NULL THEN {half_up} ELSE {amount} END" if "amount" in ck.columns else half_up
    # a line of no claim, and a claim without lines, are found by the fee split's own join of lines to
    # claims (:func:`check_line_claims`): two scans and two hash tables of the lines file fewer
    ck.defer(lambda: _orphan(con, name))
    declared = ck.mapped("declared_class", _parse(lambda f: CLASSES.get(f.choice("x", {k: k for k in CLASSES},
                                                                                  required=False) or "", None)))  # fmt: skip
    indication = ck.mapped("indication_met", _parse(lambda f: f.flag("x", default=True)), "TRUE")
    ck.flush()
    con.execute(f"""CREATE OR REPLACE TEMP VIEW lines AS
        SELECT CAST(claim_id AS VARCHAR) AS claim_id, CAST(_row AS BIGINT) AS position,
               CAST(item_code AS VARCHAR) AS item_code, {amount} AS amount, {price} AS price,
               {quantity} AS quantity, {declared}::INTEGER AS declared_class, ({indication})::BOOLEAN AS indication_met
        FROM lines_raw""")
    con.execute("CREATE OR REPLACE TEMP TABLE unchecked_lines AS SELECT ? AS name", [name])


def _claims_now(con: duckdb.DuckDBPyConnection) -> str:
    """The table holding every claim with its ``claim_id``, ``reverses`` and ``_row``: ``claims`` as read,
    ``joined`` once the executor has replaced it (:func:`yibao.batch.vector._persons`)."""
    return "claims" if _has_table(con, "claims") else "joined"


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchone() == (1,))


def _orphan(con: duckdb.DuckDBPyConnection, name: str) -> None:
    (row,) = con.execute(f"""SELECT min(_row) FROM lines_raw
                             WHERE CAST(claim_id AS VARCHAR) NOT IN (SELECT claim_id FROM {_claims_now(con)})""").fetchone() or (None,)  # fmt: skip
    if row is not None:
        raise InputError(f"{name}:{row}:claim_id", "费用明细所属理赔不存在")


def check_line_claims(con: duckdb.DuckDBPyConnection) -> None:
    """The lines file's checks against the claims, if still to be made: every line belongs to a claim, every
    claim that is not a reversal has lines. The fee split's join finds either in passing (lines it
    could not place, claims it gave no total) and calls this to name the row; any refusal before the
    split calls it first, so that these come before what the files' reading would have reached later."""
    if not _has_table(con, "unchecked_lines"):
        return
    ((name,),) = con.execute("SELECT name FROM unchecked_lines").fetchall()
    con.execute("DROP TABLE unchecked_lines")
    _orphan(con, name)
    lonely = con.execute(f"""SELECT claim_id, _row FROM {_claims_now(con)} WHERE reverses IS NULL AND claim_id NOT IN
                            (SELECT DISTINCT CAST(claim_id AS VARCHAR) FROM lines_raw) ORDER BY _row LIMIT 1""").fetchone()
    if lonely:
        raise InputError(f"claims:{lonely[1]}:claim_id", f"理赔 {lonely[0]} 没有费用明细")  # the claims file's row


def _persons(con: duckdb.DuckDBPyConnection, path: Path, name: str) -> None:
    ck = Checker(con, "persons_raw", name, _source(con, "persons_raw", path, name, PERSON_COLUMNS))
    ck.prefetch("scheme", "person_type", "age", "admissions", "assistance_category", "sex", "civil_servant",
                "ci_cap_raise")  # fmt: skip
    ck.first("NULLIF(trim(CAST(person_id AS VARCHAR)), '') IS NULL", "person_id", "缺少必填字段")
    ck.first("TRY_CAST(CAST(year AS VARCHAR) AS INTEGER) IS NULL", "year", "缺少必填整数")
    ck.first("(person_id, year) IN (SELECT (person_id, year) FROM persons_raw GROUP BY ALL HAVING count(*) > 1)",
             "person_id", "同一人员同一年度重复")  # fmt: skip
    ck.first("NOT regexp_full_match(CAST(region AS VARCHAR), '[0-9]{6}')", "region", "医保区划代码应为6位数字")
    for column in ("scheme", "person_type", "age"):
        ck.first(f"NULLIF(trim(CAST({column} AS VARCHAR)), '') IS NULL", column, "缺少必填字段")
    scheme = ck.mapped("scheme", _parse(lambda f: f.choice("x", INSUTYPES)))
    kind = ck.mapped("person_type", _parse(lambda f: person_type_of(f.text("x"))))
    age = ck.mapped("age", _parse(lambda f: _age(f)))
    ck.first(f"({scheme} = 'employee') <> ({kind} IN ('active', 'retiree', 'flexible'))", "person_type",
             "人员类别与险种不符（职工：在职、退休、灵活就业；居民：学生、未成年人、成年居民）")  # fmt: skip
    counters = []
    for counter in STATE:
        if counter == "admissions":
            counters.append(f"{ck.mapped(counter, _parse(lambda f: _count(f)), '0')}::BIGINT AS admissions")
        else:
            value = ck.fen(counter)
            counters.append(f"{value} AS {counter}")
            ck.first(f"{value} < 0", counter, "累计数不能为负")
    category = ck.mapped("assistance_category", _parse(lambda f: _category(f)), "'none'")
    sex = ck.mapped("sex", _parse(lambda f: f.choice("x", _SEX, required=False) or "male"), "'male'")
    civil_servant, benefits_from = ck.mapped("civil_servant", _flag, "FALSE"), ck.day("benefits_from")
    cap_raise = ck.mapped(
        "ci_cap_raise", lambda v: ci_cap_raise(Fields({} if v is None else {"ci_cap_raise": v}, "")), "0"
    )
    ck.flush()
    con.execute(f"""CREATE OR REPLACE TABLE persons AS
        SELECT CAST(person_id AS VARCHAR) AS person_id, CAST(year AS BIGINT) AS year,
               CAST(region AS VARCHAR) AS region, ({scheme})::VARCHAR AS scheme, ({kind})::VARCHAR AS person_type, {age}::INTEGER AS age,
               ({sex})::VARCHAR AS sex, ({category})::VARCHAR AS assistance_category,
               ({civil_servant})::BOOLEAN AS civil_servant,
               {benefits_from} AS benefits_from, {cap_raise}::BIGINT AS cap_raise, {', '.join(counters)},
               coalesce(NULLIF({ck.text('chronic')}, ''), '{{}}') AS chronic, _row
        FROM persons_raw ORDER BY person_id, year""")  # the executor indexes person-years by row  # fmt: skip
    # opening chronic accumulators are yuan in the file: through the scalar reader, row by row (few rows)
    fixed = []
    for row, text in con.execute("SELECT _row, chronic FROM persons WHERE chronic <> '{}'").fetchall():
        try:
            data = json.loads(text)
            state = read_state({"person_id": "x", "scheme": "resident", "region": "000000", "year": 2000,
                                "chronic": data})  # fmt: skip
        except (json.JSONDecodeError, InputError) as e:
            raise InputError(f"{name}:{row}:chronic", getattr(e, "reason", "应为 JSON 对象")) from None
        fixed.append((row, json.dumps(state.chronic, sort_keys=True)))
    if fixed:
        con.executemany("UPDATE persons SET chronic = ? WHERE _row = ?", [(t, r) for r, t in fixed])


def _age(f: Fields) -> int:
    age = f.integer("x")
    assert age is not None
    if not 0 <= age <= 130:
        raise InputError("x", f"年龄不合理：{age}")
    return age


def _count(f: Fields) -> int:
    n = f.integer("x", required=False, default=0)
    assert n is not None
    if n < 0:
        raise InputError("x", "累计数不能为负")
    return n


def _category(f: Fields) -> str:
    category = f.text("x", required=False, default="none")
    if category not in (*CATEGORIES, "none"):
        raise InputError("x", f"取值 {category!r} 不在 {[*CATEGORIES, 'none']} 内")
    return category


def tables_from_files(con: duckdb.DuckDBPyConnection, folder: Path, persons: Path) -> None:
    """``claims``, ``lines`` and ``persons`` of the executor from a claims folder and a persons file."""
    if not persons.exists():
        raise InputError(str(persons), "文件不存在")
    tables_from_parts(con, find_input(folder, "claims"), find_input(folder, "lines"), persons)


def tables_from_parts(
    con: duckdb.DuckDBPyConnection, claims: Path, lines: Path, persons: Path, names: tuple[str, str, str] | None = None
) -> None:
    """The same from three files, or three globs over Parquet parts cut from files ``names``."""
    claims_name, lines_name, persons_name = names or (claims.name, lines.name, persons.name)
    _claims(con, claims, claims_name)
    _lines(con, lines, lines_name)
    try:
        _persons(con, persons, persons_name)
    except InputError:
        check_line_claims(con)  # the lines file's refusal, had it been made in full, came first
        raise

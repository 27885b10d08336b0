"""Stage 1 of the Spark executor: the three input files shuffled by person into buckets, with the
checks that no single bucket can make.

Imported only once a Spark session exists (:mod:`yibao.batch.spark`), so it may import pyspark at
the top. Every file is written to the staging folder as it was read — its raw columns plus ``_row``,
the row as the file readers count it (header = row 1) — partitioned by bucket; stage 2 reads each
bucket back through the DuckDB engine's own checked reader, so a bad value in a bucket is refused
exactly as the DuckDB engine refuses it, naming the original file and row. What a bucket cannot see
is checked here, with the DuckDB engine's field and reason (``vector_files._claims``/``_lines``,
``vector._reversals``): a claim id used twice, a fee line of no claim, a reversal of another
person's claim.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import LongType, StructField, StructType

from yibao.errors import InputError
from yibao.io.batch_files import CLAIM_COLUMNS, LINE_COLUMNS, PERSON_COLUMNS

#: where Spark puts the rows whose partition value is null: the lines whose claim id names no claim
NO_BUCKET = "bucket=__HIVE_DEFAULT_PARTITION__"


@dataclass(frozen=True, slots=True)
class Inputs:
    """The three input files (absolute paths)."""

    claims: Path
    lines: Path
    persons: Path

    @property
    def names(self) -> tuple[str, str, str]:
        """The names errors give (those the DuckDB engine gives)."""
        return self.claims.name, self.lines.name, self.persons.name


def stage_inputs(spark: SparkSession, inputs: Inputs, stage: Path, buckets: int) -> None:
    """Write ``stage/{claims,lines,persons}/bucket=k/*.parquet`` and an empty file of each schema in
    ``stage/empty/`` (for the buckets Spark writes no folder for); raise the first global error.

    The files are checked in the DuckDB engine's order: claims, then lines, then persons."""
    claims_name, lines_name, persons_name = inputs.names
    claims = read_numbered(spark, inputs.claims, claims_name, CLAIM_COLUMNS)
    claims = claims.withColumn("bucket", _bucket("person_id", buckets))
    ids = claims.groupBy(_text("claim_id").alias("_claim")).agg(
        F.count(F.lit(1)).alias("_n"), F.min("_row").alias("_first"), F.min("bucket").alias("_bucket")
    )
    _duplicates(ids, claims_name)
    _write(claims, stage / "claims", buckets)
    lines = read_numbered(spark, inputs.lines, lines_name, LINE_COLUMNS)
    _write(_claim_bucket(lines, ids), stage / "lines", buckets)
    _orphans(stage / "lines" / NO_BUCKET, lines_name)
    persons = read_numbered(spark, inputs.persons, persons_name, PERSON_COLUMNS)
    _write(persons.withColumn("bucket", _bucket("person_id", buckets)), stage / "persons", buckets)
    if "reverses" in claims.columns:
        _reversals(claims)
    (stage / "empty").mkdir()
    for kind, frame in (("claims", claims.drop("bucket")), ("lines", lines), ("persons", persons)):
        pq.write_table(to_arrow_schema(frame.schema).empty_table(), stage / "empty" / f"{kind}.parquet")


def read_numbered(spark: SparkSession, path: Path, name: str, required: tuple[str, ...]) -> DataFrame:
    """The file with ``_row``: Parquet keeps its types; CSV is all text, as DuckDB's ``all_varchar``."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    uri = path.resolve().as_uri()
    try:
        if path.suffix == ".csv":
            frame = _csv(spark, uri)
        else:  # the hidden row index is the row within the file, however Spark splits it
            frame = spark.read.parquet(uri).select("*", (F.col("_metadata.row_index") + 2).alias("_row"))
    except (PySparkException, Py4JJavaError) as e:
        raise InputError(name, f"不是可读的 {path.suffix[1:]} 文件：{str(e).strip().splitlines()[0]}") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(name, f"缺少列：{'、'.join(missing)}")
    return frame


def _csv(spark: SparkSession, uri: str) -> DataFrame:
    """CSV with its header, every column text; rows numbered in file order by ``zipWithIndex`` (a
    single file's splits are Spark's partitions in file order)."""
    raw = spark.read.option("header", True).option("escape", '"').csv(uri)
    raw = raw.toDF(*(c.lstrip("\ufeff") for c in raw.columns))  # a byte-order mark is not part of the name
    schema = StructType([*raw.schema.fields, StructField("_row", LongType(), False)])
    numbered = raw.rdd.zipWithIndex().map(lambda pair: (*pair[0], pair[1] + 2))
    return spark.createDataFrame(numbered, schema)


def _text(column: str) -> Column:
    """A column as DuckDB's reader compares it (``CAST(... AS VARCHAR)``, untrimmed)."""
    return F.col(column).cast("string")


def _nonblank(column: str) -> Column:
    """``NULLIF(trim(CAST(column AS VARCHAR)), '')``."""
    return F.nullif(F.trim(_text(column)), F.lit(""))


def _bucket(column: str, buckets: int) -> Column:
    """A person's bucket; on the text of the id, so that claims and persons agree whatever the types."""
    return F.pmod(F.xxhash64(_text(column)), F.lit(buckets)).cast("int")


def _write(frame: DataFrame, folder: Path, buckets: int) -> None:
    """One shuffle: each bucket ends in one task, so in one file."""
    frame.repartition(buckets, "bucket").write.mode("overwrite").partitionBy("bucket").parquet(folder.as_uri())


def _duplicates(ids: DataFrame, name: str) -> None:
    """A claim id on two rows: refused at the first row of any duplicated id. Blank ids are left to
    the bucket, which refuses them first (a missing field)."""
    found = ids.where((F.col("_n") > 1) & (F.trim("_claim") != "")).agg(F.min("_first")).first()
    if found is not None and found[0] is not None:
        raise InputError(f"{name}:{found[0]}:claim_id", "理赔编号重复")


def _claim_bucket(lines: DataFrame, ids: DataFrame) -> DataFrame:
    """Each line in its claim's bucket. A line of no claim gets no bucket (checked after the write);
    a line without a claim id goes to bucket 0, where its other columns are checked as DuckDB does
    (it never matches a claim, and ``NULL NOT IN (...)`` does not refuse it)."""
    keys = ids.select("_claim", "_bucket")
    joined = lines.join(keys, _text("claim_id") == keys["_claim"], "left")
    bucket = F.when(F.col("claim_id").isNull(), F.lit(0)).otherwise(F.col("_bucket"))
    return joined.withColumn("bucket", bucket).drop("_claim", "_bucket")


def _orphans(folder: Path, name: str) -> None:
    """Lines whose claim id names no claim, read back from the folder Spark wrote them to."""
    if not folder.is_dir():
        return
    glob = str(folder / "*.parquet").replace("'", "''")
    con = duckdb.connect()
    try:
        found = con.execute(f"SELECT min(_row) FROM read_parquet('{glob}', hive_partitioning = false)").fetchone()
    finally:
        con.close()
    assert found is not None
    raise InputError(f"{name}:{found[0]}:claim_id", "费用明细所属理赔不存在")


def _reversals(claims: DataFrame) -> None:
    """A reversal of another person's claim: its bucket would not see the original at all. Judged as
    the DuckDB engine judges the first bad reversal, in settlement order (person, date, file row):
    an original settled later is "not before it", one already reversed is "reversed already", and
    so on; between two persons the order is the order of their ids."""
    reversals = claims.where(_nonblank("reverses").isNotNull()).select(
        _text("claim_id").alias("r_claim"), _text("person_id").alias("r_person"),
        _nonblank("reverses").alias("r_original"), _text("settlement_date").alias("r_day"),
        F.col("_row").alias("r_row"),
    )  # fmt: skip
    order = ("r_person", "r_day", "r_row")
    reversals = reversals.withColumn("r_nth", F.row_number().over(Window.partitionBy("r_original").orderBy(*order)))
    originals = claims.select(
        _text("claim_id").alias("o_claim"), _text("person_id").alias("o_person"),
        _nonblank("reverses").alias("o_reverses"),
    )  # fmt: skip
    bad = (
        reversals.join(originals, F.col("r_original") == F.col("o_claim"))
        .where(F.col("o_person") != F.col("r_person"))
        .orderBy(*order)
        .first()
    )
    if bad is None:
        return
    if bad["o_person"] > bad["r_person"]:
        raise InputError("reverses", f"冲正 {bad['r_claim']}：原理赔 {bad['r_original']} 不在其之前")
    if bad["r_nth"] > 1:
        raise InputError("reverses", f"冲正 {bad['r_claim']}：原理赔 {bad['r_original']} 已被冲正")
    if bad["o_reverses"] is not None:
        raise InputError("original", "不能冲销一笔冲销结算")
    raise InputError("state.psn_no", "累计数据与原结算的参保人不符")

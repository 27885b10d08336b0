"""The Spark executor (``yibao batch settle --engine spark``): the DuckDB engine's plan, distributed
by person.

Settlement is sequential within a person-year and independent across persons, so the only step that
needs a cluster is a shuffle by person:

1. **stage 1**, a Spark job (:mod:`yibao.batch.spark_stage`): read claims, lines and persons, number
   their rows as the file readers do, give each person a bucket (``pmod(xxhash64(person_id), B)``)
   and each line its claim's bucket, check what one bucket cannot see, and write the three inputs to
   a staging folder partitioned by bucket;
2. **stage 2**, one Spark task per bucket (this module, in the executors): the vectorised executor
   (:func:`yibao.batch.vector.settle_vectorised`) on the bucket's parts, read through the DuckDB
   engine's checked reader, writing one part of ``results.parquet`` and ``accumulators.parquet``
   (Parquet datasets: folders of parts).

Each task runs the very plan the DuckDB engine runs, so the DuckDB engine's differential tests cover
the settlement, and the Spark tests compare the two engines on the same files. pyspark is imported
only here, lazily: yibao works without it, and ``--engine spark`` then says how to install it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yibao import errors
from yibao.errors import InputError, YibaoError
from yibao.io.batch_files import find_input

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from yibao.batch.spark_stage import Inputs
    from yibao.policy.snapshot import PolicySnapshot

APP = "yibao batch settle"
INSTALL = "spark 执行器需要 pyspark，请先安装：pip install 'yibao[spark]'"
KINDS = ("claims", "lines", "persons")
OUTPUTS = ("results.parquet", "accumulators.parquet")
LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")  # errors only, from the JVM's start


@dataclass(frozen=True, slots=True)
class PolicyArgs:
    """How to rebuild the driver's policy snapshot on an executor (the CLI's ``-p``, ``--overlay``
    and ``--catalog``, as absolute paths) and the id it must have."""

    policy_dir: str
    overlays: tuple[str, ...]
    catalogs: tuple[str, ...]
    snapshot_id: str

    @classmethod
    def of(cls, policy_dir: Path, overlays: Sequence[Path], catalogs: Sequence[str], snapshot_id: str) -> PolicyArgs:
        specs = tuple(f"{s.partition('=')[0]}={Path(s.partition('=')[2]).resolve()}" for s in catalogs)
        return cls(str(policy_dir.resolve()), tuple(str(p.resolve()) for p in overlays), specs, snapshot_id)


@dataclass(frozen=True, slots=True)
class SparkOptions:
    """The Spark-only options of ``yibao batch settle``."""

    buckets: int | None = None  # default: 2 × the default parallelism
    stage: Path | None = None  # default: OUT/_stage
    master: str | None = None  # default: $YIBAO_SPARK_MASTER, else local[*]
    conf: tuple[str, ...] = ()  # KEY=VALUE for a session started here


@dataclass(frozen=True, slots=True)
class BucketJob:
    """What every stage-2 task needs, as plain data (it is pickled to the executors)."""

    stage: str
    parts: str
    names: tuple[str, str, str]
    policy: PolicyArgs
    memory: str | None  # DuckDB's memory_limit per task


@dataclass(frozen=True, slots=True)
class Refused:
    """A bucket's :class:`~yibao.errors.YibaoError`, carried back to the driver as data: the
    subclasses' constructors differ from their ``args``, so the exception itself does not unpickle."""

    kind: str
    message: str
    attrs: dict[str, Any]

    def error(self) -> YibaoError:
        cls = getattr(errors, self.kind, YibaoError)
        if not (isinstance(cls, type) and issubclass(cls, YibaoError)):
            cls = YibaoError
        e = cls.__new__(cls)
        YibaoError.__init__(e, self.message)
        e.__dict__.update(self.attrs)
        return e


# ---- the session ---------------------------------------------------------------------------------


def spark_session(master: str | None = None, conf: Sequence[str] = ()) -> tuple[SparkSession, bool]:
    """The session to run on, and whether this call started it (and so should stop it).

    A session already running — under ``spark-submit``, or a test's — is used as configured;
    otherwise one is started on ``master`` (``--spark-master``, else ``$YIBAO_SPARK_MASTER``, else
    ``local[*]``) with the defaults below, then ``conf`` (``KEY=VALUE``) over them."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise InputError("--engine", INSTALL) from None
    session = SparkSession.getActiveSession()
    if session is None and "PYSPARK_GATEWAY_PORT" in os.environ:  # spark-submit started the driver JVM
        session = SparkSession.builder.appName(APP).getOrCreate()
    started = session is None
    if session is None:
        chosen = master or os.environ.get("YIBAO_SPARK_MASTER") or "local[*]"
        if chosen.startswith("local"):  # local workers run this interpreter, which has yibao (pyspark
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # reads the variable, not a conf)
        builder = SparkSession.builder.master(chosen).appName(APP)
        for key, value in [*_defaults(chosen).items(), *(_setting(spec) for spec in conf)]:
            builder = builder.config(key, value)
        session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")  # no row data in logs: Spark's own INFO/WARN lines are off
    return session, started


def _defaults(master: str) -> dict[str, str]:
    """Sized for a 24 GiB machine. The driver JVM holds stage 1's shuffle (and, in local mode, the
    executors); DuckDB runs in the Python workers, outside the JVM, and gets the rest
    (:func:`_task_memory`). ``YIBAO_SPARK_DRIVER_MEMORY`` / ``..._EXECUTOR_MEMORY`` or ``--spark-conf``
    change them. Logging is set to errors from the JVM's first line (setLogLevel comes too late for
    the start-up warnings)."""
    conf = {
        "spark.driver.memory": os.environ.get("YIBAO_SPARK_DRIVER_MEMORY", "4g"),
        "spark.executor.memory": os.environ.get("YIBAO_SPARK_EXECUTOR_MEMORY", "4g"),
        "spark.log.level": "ERROR",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}",
    }
    if master.startswith("local"):
        conf["spark.ui.enabled"] = "false"
    return conf


def _setting(spec: str) -> tuple[str, str]:
    key, sep, value = spec.partition("=")
    if not (sep and key.strip()):
        raise InputError("--spark-conf", f"应为 键=值，如 spark.executor.memory=8g：{spec!r}")
    return key.strip(), value


def _task_memory(spark: SparkSession) -> str | None:
    """DuckDB's memory limit in each task: ``$YIBAO_SPARK_TASK_MEMORY`` (e.g. ``6GB``); in local mode
    by default 60 % of the machine shared by the tasks that run at once (DuckDB would otherwise
    allow each of them 80 % of it); on a cluster DuckDB's own default unless set."""
    if os.environ.get("YIBAO_SPARK_TASK_MEMORY"):
        return os.environ["YIBAO_SPARK_TASK_MEMORY"]
    context = spark.sparkContext
    if not (context.master or "").startswith("local"):
        return None
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not a POSIX system: DuckDB's default
        return None
    return f"{max(256, ram * 6 // 10 // max(1, context.defaultParallelism) // 2**20)}MB"


# ---- the driver ----------------------------------------------------------------------------------


def settle_spark(
    folder: Path, persons: Path, policy: PolicyArgs, out: Path, options: SparkOptions | None = None
) -> tuple[int, int, int]:
    """Settle the claims folder and persons file into ``out``: (claims settled, fund paid, personal
    burden). All or nothing: on an error nothing is left in ``out`` and the staging folder is gone."""
    options = options or SparkOptions()
    claims, lines = find_input(folder, "claims"), find_input(folder, "lines")
    if not persons.exists():
        raise InputError(str(persons), "文件不存在")
    spark, started = spark_session(options.master, options.conf)
    try:
        from yibao.batch.spark_stage import Inputs

        inputs = Inputs(claims.resolve(), lines.resolve(), persons.resolve())
        return _run(spark, inputs, policy, out.resolve(), options)
    finally:
        if started:
            spark.stop()


def _run(
    spark: SparkSession, inputs: Inputs, policy: PolicyArgs, out: Path, options: SparkOptions
) -> tuple[int, int, int]:
    from yibao.batch.spark_stage import stage_inputs

    made_out = not out.exists()
    root = (options.stage or out / "_stage").resolve()
    made_root = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix="yibao-", dir=root))  # its own folder: --stage may be shared
    parts = out / "_parts"
    buckets = options.buckets or max(1, 2 * spark.sparkContext.defaultParallelism)
    try:
        with _spark_failures():
            stage_inputs(spark, inputs, stage, buckets)
            shutil.rmtree(parts, ignore_errors=True)  # a crashed run's
            for name in OUTPUTS:
                (parts / name).mkdir(parents=True)
            job = BucketJob(str(stage), str(parts), inputs.names, policy, _task_memory(spark))
            totals = _settle_buckets(spark, job, buckets)
        _publish(parts, out)
        return totals
    finally:
        shutil.rmtree(parts, ignore_errors=True)
        shutil.rmtree(stage, ignore_errors=True)
        for folder, made in ((root, made_root), (out, made_out)):
            if made and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()


@contextlib.contextmanager
def _spark_failures() -> Iterator[None]:
    """A Spark job that fails for any reason but a refused input (a lost executor, memory): one line."""
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    try:
        yield
    except (PySparkException, Py4JJavaError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise YibaoError(f"Spark 作业失败（详见 Spark 日志）：{first[:300]}") from None


def _settle_buckets(spark: SparkSession, job: BucketJob, buckets: int) -> tuple[int, int, int]:
    outcomes = spark.sparkContext.parallelize(range(buckets), buckets).map(partial(settle_bucket, job)).collect()
    settled = fund = burden = 0
    for outcome in outcomes:  # in bucket order: the first bucket's error is the one reported
        if isinstance(outcome, Refused):
            raise outcome.error()
        settled, fund, burden = settled + outcome[0], fund + outcome[1], burden + outcome[2]
    return settled, fund, burden


def _publish(parts: Path, out: Path) -> None:
    """Move the finished datasets into ``out``, replacing a previous run's files."""
    for name in OUTPUTS:
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        (parts / name).rename(target)


# ---- stage 2, in the executors -------------------------------------------------------------------

_SNAPSHOTS: dict[PolicyArgs, PolicySnapshot] = {}  # per worker process: the policy tree is read once


def executor_snapshot(policy: PolicyArgs) -> PolicySnapshot:
    """The driver's snapshot, rebuilt from the same files; a different id means the nodes' files differ."""
    snapshot = _SNAPSHOTS.get(policy)
    if snapshot is None:
        from yibao.cli_batch import _snapshot

        overlays = [Path(p) for p in policy.overlays]
        snapshot = _SNAPSHOTS[policy] = _snapshot(Path(policy.policy_dir), overlays, list(policy.catalogs))
    if snapshot.id != policy.snapshot_id:
        raise InputError("--policy-dir", f"执行器上的政策快照 {snapshot.id} 与驱动程序的 {policy.snapshot_id} 不同："
                         "各节点的政策目录、调整方案与目录文件必须一致")  # fmt: skip
    return snapshot


def settle_bucket(job: BucketJob, bucket: int) -> tuple[int, int, int] | Refused:
    """One task: settle a bucket; a refused input comes back as data, to be raised by the driver."""
    try:
        return _settle_bucket(job, bucket, executor_snapshot(job.policy))
    except YibaoError as e:
        return Refused(type(e).__name__, e.message, dict(vars(e)))


def _settle_bucket(job: BucketJob, bucket: int, snapshot: PolicySnapshot) -> tuple[int, int, int]:
    import duckdb

    from yibao.batch.vector import settle_vectorised
    from yibao.batch.vector_files import tables_from_parts

    stage, parts = Path(job.stage), Path(job.parts)
    found = {kind: _bucket_glob(stage / kind, bucket) for kind in KINDS}
    if all(glob is None for glob in found.values()):
        return 0, 0, 0  # nobody hashed here
    # a bucket Spark wrote no folder for (persons without claims, say) reads an empty file of the schema
    claims, lines, persons = (found[kind] or stage / "empty" / f"{kind}.parquet" for kind in KINDS)
    con = duckdb.connect(config=_duckdb_config(job))
    try:
        tables_from_parts(con, claims, lines, persons, names=job.names)
        run = settle_vectorised(con, snapshot)
        own = parts / f"bucket-{bucket:05d}"
        run.write(own)  # the DuckDB engine's own writer, then each file into its dataset
        for name in OUTPUTS:
            os.replace(own / name, parts / name / f"part-{bucket:05d}.parquet")
        own.rmdir()
        return run.summary()
    finally:
        con.close()


def _bucket_glob(folder: Path, bucket: int) -> Path | None:
    path = folder / f"bucket={bucket}"
    return path / "*.parquet" if path.is_dir() else None


def _duckdb_config(job: BucketJob) -> dict[str, Any]:
    """As many DuckDB threads as the task has cores (``spark.task.cpus``): the buckets are the parallelism."""
    from pyspark import TaskContext

    context = TaskContext.get()
    config: dict[str, Any] = {"threads": max(1, context.cpus() if context is not None else 1)}
    if job.memory:
        config["memory_limit"] = job.memory
    return config

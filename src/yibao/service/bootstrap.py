"""Build a :class:`Platform` from settings: database (migrated), policy, cipher, region rows."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from yibao.io.policy_dir import load_policy_dir
from yibao.service.codes import CodeTables, parse_code_tables
from yibao.service.platform import Platform
from yibao.settings import Settings
from yibao.store.db import make_engine
from yibao.store.migrate import upgrade
from yibao.store.models import Region
from yibao.store.pii import PiiCipher


def build_platform(settings: Settings, migrate: bool = True) -> Platform:
    cipher = PiiCipher.from_env(settings.environ)
    snapshot = load_policy_dir(settings.policy_dir)
    engine = make_engine(settings.db_url)
    if migrate:
        upgrade(engine)
    codes = CodeTables()
    if settings.code_tables is not None:
        codes = parse_code_tables(_read_yaml(settings.code_tables))
    platform = Platform(engine=engine, snapshot=snapshot, cipher=cipher, admdvs=settings.admdvs, codes=codes)
    with Session(engine) as session, session.begin():
        for region in snapshot.tree:
            session.merge(Region(code=region.code, name=region.name, parent_code=region.parent, pooling=region.pooling))
    return platform


def _read_yaml(path: Path) -> object:
    from yibao.errors import InputError
    from yibao.io.yaml_exact import load_yaml

    try:
        return load_yaml(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError("YIBAO_CODE_TABLES", f"无法读取代码表文件 {path}：{e.strerror}") from None

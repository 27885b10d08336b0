"""Build a :class:`Platform` from settings: database (migrated), policy, cipher, region rows."""

from __future__ import annotations

from sqlalchemy.orm import Session

from yibao.io.policy_dir import load_policy_dir
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
    platform = Platform(engine=engine, snapshot=snapshot, cipher=cipher, admdvs=settings.admdvs)
    with Session(engine) as session, session.begin():
        for region in snapshot.tree:
            session.merge(Region(code=region.code, name=region.name, parent_code=region.parent, pooling=region.pooling))
    return platform

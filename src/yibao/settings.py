"""Typed settings from the environment, checked at start-up (fail fast, never a silent default
for a secret).

| variable | meaning | default |
|---|---|---|
| ``YIBAO_DB`` | database URL (``sqlite:///path`` or ``postgresql+psycopg://…``) | ``sqlite:///yibao.db`` |
| ``YIBAO_POLICY_DIR`` | policy folder | ``policies`` |
| ``YIBAO_PII_KEY`` | base64 of 32 bytes: encrypts ID numbers and names (required) | — |
| ``YIBAO_PII_OLD_KEYS`` | earlier keys, comma-separated, for decryption after rotation | — |
| ``YIBAO_GATEWAY_KEYS`` | JSON/YAML file of gateway keys per institution; unset: no gateway auth | — |
| ``YIBAO_ADMDVS`` | the platform's own 医保区划 (prefix of ``inf_refmsgid``) | ``000000`` |
| ``YIBAO_CODE_TABLES`` | YAML of per-region med_type / psn_type / clr_type tables | national baseline |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from yibao.store.db import DEFAULT_URL


@dataclass(frozen=True)
class Settings:
    db_url: str
    policy_dir: Path
    gateway_keys: Path | None
    admdvs: str
    code_tables: Path | None
    environ: Mapping[str, str]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = dict(os.environ if environ is None else environ)
        values: dict[str, object] = {
            "db_url": env.get("YIBAO_DB") or DEFAULT_URL,
            "policy_dir": Path(env.get("YIBAO_POLICY_DIR") or "policies"),
            "gateway_keys": Path(env["YIBAO_GATEWAY_KEYS"]) if env.get("YIBAO_GATEWAY_KEYS") else None,
            "admdvs": env.get("YIBAO_ADMDVS") or "000000",
            "code_tables": Path(env["YIBAO_CODE_TABLES"]) if env.get("YIBAO_CODE_TABLES") else None,
            "environ": env,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

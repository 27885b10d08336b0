"""The server's application factory (``uvicorn yibao.api.server:app --factory``), configured from the environment."""

from __future__ import annotations

import logging

from yibao.api.app import create_app
from yibao.api.auth import GatewayKeys, load_gateway_keys
from yibao.api.front import InterfaceFront
from yibao.service.bootstrap import build_platform
from yibao.settings import Settings
from yibao.store.pii import PiiLogFilter


def configure_logging() -> None:
    """One handler on the root logger, with the personal-data filter on it: a filter on a logger
    does not see its children's records, a filter on the handler sees everything that is written."""
    root = logging.getLogger()
    if not any(isinstance(f, PiiLogFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        handler.addFilter(PiiLogFilter())
        root.addHandler(handler)
        root.setLevel(logging.WARNING)


def app_from_env(settings: Settings | None = None) -> InterfaceFront:
    configure_logging()
    settings = settings or Settings.from_env()
    keys = load_gateway_keys(settings.gateway_keys, settings.environ) if settings.gateway_keys else GatewayKeys.empty()
    return create_app(build_platform(settings), keys)


def app() -> InterfaceFront:
    return app_from_env()

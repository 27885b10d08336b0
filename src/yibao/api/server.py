"""The server's application factory (``uvicorn yibao.api.server:app --factory``), configured from the environment."""

from __future__ import annotations

from fastapi import FastAPI

from yibao.api.app import create_app
from yibao.api.auth import GatewayKeys, load_gateway_keys
from yibao.service.bootstrap import build_platform
from yibao.settings import Settings


def app_from_env(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    keys = load_gateway_keys(settings.gateway_keys, settings.environ) if settings.gateway_keys else GatewayKeys.empty()
    return create_app(build_platform(settings), keys)


def app() -> FastAPI:
    return app_from_env()

"""``create_app()``: the FastAPI application and its routers.

Routers are thin: they parse the request, call the same handlers as every
other entry point, and write through the unit of work (whose outbox the
stream worker relays to Kafka), so a webhook answers quickly even when the
broker is slow.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from careline.web.headers import SecurityHeaders
from careline.web.limits import BodySizeLimit
from careline.web.login import PasswordPool
from careline.web.metrics import check_metrics_exposure
from careline.web.rate_limits import RateLimits
from careline.web.street_map import tile_origins
from config.bootstrap import bootstrap
from config.settings import Settings, get_settings


@asynccontextmanager
async def _refuse_unsafe_production(app: FastAPI):  # noqa: ANN202
    """Start only when production has what it needs: a session secret (``auth.secret_key``)
    and a token on an exposed /metrics (``check_metrics_exposure``); each raises naming the setting."""
    from careline.web import auth

    auth.secret_key(app.state.settings)
    check_metrics_exposure(app.state.settings)
    yield


def create_app(settings: Settings | None = None) -> FastAPI:
    """The web service for ``settings`` (default: the environment's). Raises
    ``config.files.ConfigFileError`` for a bad configuration file."""
    settings = settings or get_settings()
    runtime = bootstrap(settings)
    production = settings.environment == "production"
    app = FastAPI(
        title="careline",
        version="0.1.0",
        lifespan=_refuse_unsafe_production,
        description="Care requests from hotline, one-key button and app; dispatch to caregivers.",
        docs_url=None if production else "/docs",
        redoc_url=None if production else "/redoc",
    )
    app.state.settings, app.state.runtime = settings, runtime
    app.state.password_pool = PasswordPool(settings.password_hash_concurrency, settings.password_hash_queue)
    app.state.rate_limits = RateLimits(settings)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_body_bytes)  # 413 above it
    app.add_middleware(  # outermost: on every answer, 413s included
        SecurityHeaders, production=production, img_origin=tile_origins(settings)
    )
    app.add_exception_handler(RequestValidationError, validation_problem)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    from careline.web import (
        actions,
        admin,
        alarm_routes,
        app_api,
        dashboard,
        elder_card,
        evv_review,
        kpis_page,
        metrics,
        register_pages,
        request_history,
        stats,
        street_map,
        twilio_routes,
    )

    for module in (
        dashboard,
        actions,
        admin,
        evv_review,
        kpis_page,
        stats,
        twilio_routes,
        alarm_routes,
        app_api,
        elder_card,
        register_pages,
        request_history,
        street_map,
    ):
        app.include_router(module.router)
    if settings.metrics_enabled:
        app.include_router(metrics.router)
    return app


async def validation_problem(request: Request, exc: Exception) -> JSONResponse:
    """422 with FastAPI's ``loc``/``msg``/``type`` per invalid field, without echoing the input:
    an input of NaN or infinity cannot be written as JSON (the default answer was a 500),
    and a refused value may be personal."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse(
        {
            "detail": [
                {
                    "loc": [p if isinstance(p, (str, int)) else str(p) for p in e.get("loc", ())],
                    "msg": str(e.get("msg", "invalid")),
                    "type": str(e.get("type", "value_error")),
                }
                for e in errors
            ]
        },
        422,
    )

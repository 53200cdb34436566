"""``create_app()``: the FastAPI application and its routers.

Routers are thin: they parse the request, call the same handlers as every
other entry point, and write through the unit of work (whose outbox the
stream worker relays to Kafka), so a webhook answers quickly even when the
broker is slow.
"""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from careline.web.limits import BodySizeLimit
from config.bootstrap import bootstrap
from config.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    runtime = bootstrap(settings)  # a bad configuration file refuses to start (config.files.ConfigFileError)
    app = FastAPI(title="careline", version="0.1.0",
                  description="Care requests from hotline, one-key button and app; dispatch to caregivers.")
    app.state.settings, app.state.runtime = settings, runtime
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_body_bytes)  # 413 above it
    app.add_exception_handler(RequestValidationError, validation_problem)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for module in _ROUTER_MODULES:
        app.include_router(__import__(module, fromlist=["router"]).router)
    return app


async def validation_problem(request: Request, exc: Exception) -> JSONResponse:
    """422 with FastAPI's ``loc``/``msg``/``type`` per invalid field, without echoing the input:
    an input of NaN or infinity cannot be written as JSON (the default answer was a 500),
    and a refused value may be personal."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return JSONResponse({"detail": [{"loc": [p if isinstance(p, (str, int)) else str(p) for p in e.get("loc", ())],
                                     "msg": str(e.get("msg", "invalid")), "type": str(e.get("type", "value_error"))}
                                    for e in errors]}, 422)


#: Modules that define a FastAPI ``router``; added as they are built.
_ROUTER_MODULES: list[str] = [
    "careline.web.dashboard", "careline.web.actions", "careline.web.admin",  # operator dashboard
    "careline.web.evv_review",                                                 # EVV flag review page
    "careline.web.kpis_page",                                                  # live provider evaluation
    "careline.web.stats", "careline.web.metrics",                              # statistics API, /metrics
    "careline.web.twilio_routes", "careline.web.alarm_routes",                 # Twilio webhooks, one-key alarms
    "careline.web.app_api",                                                   # elder/family and caregiver apps
]

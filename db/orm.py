"""Map the domain dataclasses onto the tables from the outside (imperative
mapping, as in Architecture Patterns with Python), so ``handlers`` never
imports SQLAlchemy. ``care_requests.version`` is the optimistic-concurrency
counter: a stale concurrent update raises ``StaleDataError``."""

from __future__ import annotations

from sqlalchemy.orm import registry

from db import tables
from handlers import model

mapper_registry = registry()
_started = False


def start_mappers() -> None:
    """Idempotent: map every domain class once per process."""
    global _started
    if _started:
        return
    mapper_registry.map_imperatively(model.Elder, tables.elders)
    mapper_registry.map_imperatively(model.ProviderOrganisation, tables.provider_organisations)
    mapper_registry.map_imperatively(model.Caregiver, tables.caregivers)
    mapper_registry.map_imperatively(
        model.CareRequest, tables.care_requests, version_id_col=tables.care_requests.c.version
    )
    mapper_registry.map_imperatively(model.Offer, tables.offers)
    mapper_registry.map_imperatively(model.Visit, tables.visits)
    mapper_registry.map_imperatively(model.Feedback, tables.feedback)
    mapper_registry.map_imperatively(model.AlarmDevice, tables.alarm_devices)
    _started = True


# Importing the mapping maps the domain: every module that stores domain objects imports
# db.session or db.uow, which import this one, so objects made afterwards are instrumented
# (an Elder made before its class was mapped cannot be added to a session). Mapping on import
# of the ``db`` package itself made a circle (db -> db.orm -> db).
start_mappers()

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
    mapper_registry.map_imperatively(model.CareRequest, tables.care_requests,
                                     version_id_col=tables.care_requests.c.version)
    mapper_registry.map_imperatively(model.Offer, tables.offers)
    mapper_registry.map_imperatively(model.Visit, tables.visits)
    mapper_registry.map_imperatively(model.Feedback, tables.feedback)
    _started = True

"""``careline import providers``: the provider list into the database."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from db.migrate import upgrade
from db.session import session_factory
from handlers.datasets.providers import ProviderListing, read_providers
from handlers.model import ProviderOrganisation


def to_organisation(p: ProviderListing) -> ProviderOrganisation:
    hours = [
        {"weekday": h.weekday, "opens": h.opens.strftime("%H:%M"), "closes": h.closes.strftime("%H:%M")}
        for h in p.opening_hours
    ]
    return ProviderOrganisation(
        provider_id=p.provider_id,
        name=p.name,
        service_area=p.service_area,
        service_types=" ".join(p.service_types),
        provider_type=p.provider_type,
        sponsor=p.sponsor,
        address=p.address,
        phone=p.phone,
        latitude=p.latitude,
        longitude=p.longitude,
        opening_hours=json.dumps(hours),
    )


def import_provider_file(path: Path, database_url: str, out: Console) -> int:
    """Upsert every valid row; print the rejected ones. Exit status 0 when the
    file was read (rejections are reported, not fatal), 2 when it cannot be."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            providers, rejected = read_providers(fh)
    except (OSError, ValueError) as exc:
        out.print(f"[red]cannot read {path}: {exc}")
        return 2
    upgrade(database_url)
    with session_factory(database_url)() as session:
        for p in providers:
            session.merge(to_organisation(p))
        session.commit()
    unlocated = [p.provider_id for p in providers if not p.located]
    where = database_url.rsplit("@", 1)[-1]
    out.print(
        f"loaded {len(providers)} provider organisations from {path.name} into {where}; "
        f"{len(rejected)} rows rejected; {len(unlocated)} kept without coordinates "
        f"(DFTA IDs: {', '.join(unlocated) or 'none'}; they cannot be placed on a map or "
        "matched by distance until geocoded)"
    )
    if rejected:
        table = Table(title="rejected rows")
        for col in ("line", "field", "reason"):
            table.add_column(col)
        for r in rejected:
            table.add_row(str(r.line), r.field, r.reason)
        out.print(table)
    return 0

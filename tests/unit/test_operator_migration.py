"""Migration 0003 creates what db.tables declares for the dashboard, after 0002."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from db.migrate import upgrade
from db.tables import metadata


def test_migrating_to_head_creates_the_operator_tables_exactly_as_declared(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = create_engine(url)
    names = set(inspect(engine).get_table_names())
    assert {"operators", "audit_log", "service_area_regions", "emergency_acknowledgements"} <= names
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []

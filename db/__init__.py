"""Storage: SQLAlchemy 2.x tables, the mapping onto the domain, the unit of work, Alembic migrations."""

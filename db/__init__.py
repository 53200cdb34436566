"""Storage: SQLAlchemy 2.x tables, the mapping onto the domain, the unit of work,
repositories and read models (all of careline's SQL), Alembic migrations.

``db.session.session_factory`` maps the domain classes (``db.orm.start_mappers``)
before it hands out sessions, so any domain object can be stored through them.
"""

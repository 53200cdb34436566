"""Storage: SQLAlchemy 2.x tables, the mapping onto the domain, the unit of work,
repositories and read models (all of careline's SQL), Alembic migrations.

Importing ``db.orm`` (which ``db.session`` and ``db.uow`` do) maps the domain classes
(``db.orm.start_mappers``), so domain objects made afterwards can be stored.
"""

"""Storage: SQLAlchemy 2.x tables, the mapping onto the domain, the unit of work, Alembic migrations.

Importing ``db`` maps the domain classes (``db.orm.start_mappers``), so any
domain object created afterwards can be stored.
"""
from db.orm import start_mappers

start_mappers()

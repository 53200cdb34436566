"""The unit tests' own settings.

Argon2 at its production cost (``careline.operators``: 64 MiB, 3 passes) takes 0.1–0.8 s per
hash or check on this 2-core machine, and the dashboard's tests log in hundreds of times. They
test who may see and do what, not the hash: they use Argon2 at its lowest cost. The tests of
password guessing (``test_web_login_security.py``) put the production hasher back, because
they measure what real hashing does to the service.
"""

from __future__ import annotations

from argon2 import PasswordHasher

from careline import operators

LOW_COST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def pytest_configure() -> None:
    """Before any fixture seeds an account."""
    operators.use_password_hasher(LOW_COST)

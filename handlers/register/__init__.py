"""The register of a center: elders, caregivers, providers and alarm devices as files and
pages give them, read into typed records (``records``), with rotas (``rota``), phone
numbers (``phones``), vocabularies (``services``), family contacts (``contacts``),
register files (``files``, ``rows``), addresses (``addresses``) and travel from coordinates
(``geo``). Pure: no database, broker or web imports.
"""

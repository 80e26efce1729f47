"""Budbringer: the engine (settings, database, sources, matching, digests, campaigns,
rendering, delivery, scheduler, web shell, CLI)."""

__version__ = "0.1.0"

"""Benchmark processes run on the service's event loop (uvloop when installed)."""

from service.eventloop import name, run  # noqa: F401

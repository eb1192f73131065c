"""Turbocat's pure core: domain, ports, engine and use cases, standard library only."""

from turbocat_core.errors import NonRetryableError

__version__ = "0.1.0"

__all__ = ["NonRetryableError", "__version__"]

"""Turbocat's pure core: domain, ports, engine and use cases, standard library only."""

__version__ = "0.1.0"

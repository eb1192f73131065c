"""turbocat_adapters."""

from turbocat_adapters.functions import function

__all__ = ["function"]

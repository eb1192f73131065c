"""turbocat_adapters."""

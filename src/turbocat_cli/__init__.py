"""turbocat_cli."""

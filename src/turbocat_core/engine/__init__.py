"""Running workflows: validation, the run loop, step attempts and the run's persistence."""

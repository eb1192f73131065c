"""Reading a Prometheus exposition in tests: prometheus-client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample: (name, labels) -> value."""
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    """A sample's value; 0 when the exposition has none (a child not created yet)."""
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def delta(before: str, after: str, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def changed(before: str, after: str, prefix: str) -> dict[tuple[str, frozenset], float]:
    """The samples whose name starts with ``prefix`` that moved, and by how much."""
    old, new = samples(before), samples(after)
    moved = {}
    for key, now in new.items():
        if key[0].startswith(prefix) and now != old.get(key, 0.0):
            moved[key] = now - old.get(key, 0.0)
    return moved

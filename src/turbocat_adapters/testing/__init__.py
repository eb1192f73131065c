"""The users' testing kit: a time-skipping test runtime, Hypothesis strategies
(``turbocat_adapters.testing.strategies``, extra ``testing``) and a pytest plugin
(docs/testing.md)."""

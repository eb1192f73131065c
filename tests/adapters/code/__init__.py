"""Tests of the CODE agent's runner: real interpreters, every isolation level, both loops."""

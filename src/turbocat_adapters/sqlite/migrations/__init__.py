"""The SQLite store's numbered migration files (package data)."""

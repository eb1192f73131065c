"""The SQL store written once: tables derived from the domain's dataclasses, named queries,
repositories over a small connection protocol that the SQLite and PostgreSQL drivers
implement (``connection.Connection``), and the dialect hooks where the two must differ."""

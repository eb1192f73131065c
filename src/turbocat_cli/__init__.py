"""The command line: `turbocat serve`, `worker`, `db`, `seed`, `validate`, `run` and the rest
(`app.py` is the typer app)."""

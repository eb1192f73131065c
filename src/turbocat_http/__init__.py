"""The Litestar HTTP front: ``create_app(container)`` builds the app (see ``app.py``)."""

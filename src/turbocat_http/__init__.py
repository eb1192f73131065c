"""The Litestar HTTP front (issue 4 builds it; nothing here yet)."""

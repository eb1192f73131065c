"""Authentication: who the caller is (bearer token or API key), and the /auth routes."""

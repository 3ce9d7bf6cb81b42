"""xuncha service: HTTP, storage, auth, settings and the CLI."""

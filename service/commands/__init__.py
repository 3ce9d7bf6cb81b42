"""CLI command modules; each exposes ``register(app)`` and is wired in :mod:`service.cli`."""

"""HTTP routers, one module per resource; each exposes ``router`` (see :data:`service.app.ROUTERS`)."""

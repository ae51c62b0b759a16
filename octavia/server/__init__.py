"""The self-hostable Octavia server: FastAPI app (``octavia.server.app.create_app``), database,
storage, auth, and the Huey workers. Importing this package does nothing by itself."""

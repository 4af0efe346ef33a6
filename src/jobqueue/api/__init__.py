"""The HTTP API: the FastAPI application, its routes, and the process that serves it."""

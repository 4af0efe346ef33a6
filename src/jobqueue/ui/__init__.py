"""The live web dashboard at ``/ui``: pages, their event streams, login, vendored assets."""

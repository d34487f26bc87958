"""Tools that keep the documentation honest: generated references and runnable commands.

``scripts/docgen.py`` writes the references generated from the code (HTTP API from the
OpenAPI documents, configuration from the click commands); ``scripts/doccheck.py`` runs the
shell blocks of the docs against a live ``jobqueue dev``. ``tests/docs/`` runs both.
"""

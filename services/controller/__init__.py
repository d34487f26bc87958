"""The controller: versioned job registry and dispatcher registrations over HTTP.

`jobqueue.controller.app.create_app` builds the Starlette app;
`jobqueue.controller.migrations.upgrade` brings a database to the current schema.
"""

from __future__ import annotations

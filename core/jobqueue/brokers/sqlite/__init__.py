"""The embedded SQLite broker (filled in by the foundation issue)."""

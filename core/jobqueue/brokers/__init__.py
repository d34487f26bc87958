"""Brokers that ship in core (the embedded SQLite broker); others are separate plugins."""

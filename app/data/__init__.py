"""Persistence only: engine, keys, models, migrations, backup.  Imports nothing above it."""

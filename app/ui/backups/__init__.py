"""Backups in the GUI: the backups' own thread, the automatic backups while CareDesk runs,
the one made at sign-out and close, and putting a backup back (Settings → Backups)."""

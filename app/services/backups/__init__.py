"""Backups a clinic can restore: made while CareDesk runs, encrypted, verified, kept off the
PC, and a restore that cannot make things worse.

- :mod:`manifest` — what sits beside every backup: when, from which program and schema, the
  rows of every table, the audit trail's seal, the file's SHA-256.
- :mod:`archive` — one backup of the encrypted file: an online copy under the clinic's key
  (:func:`app.data.database.snapshot_copy`), written under a temporary name, checked, and
  only then given its name; and the check itself (:func:`archive.verify_backup`).
- :mod:`server_dump` — the same for a clinic server: ``pg_dump`` encrypted with AES-GCM
  before it leaves the process.
- :mod:`keeping` — which backups to keep (24 hourly, 14 daily, 8 weekly, 12 monthly).
- :mod:`schedule` — the settings, when the next automatic backup is due, one backup run
  (this PC's folder and the owner's), and the status Today shows.
- :mod:`restore` — putting a backup back, after checking it and keeping the current
  database as a pre-restore copy.
"""

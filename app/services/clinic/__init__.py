"""The clinic itself and what every other area stands on.

The clinic's database, key, details and letterhead (``clinics``, ``printing``), its
providers, rooms and services (``catalog``); staff accounts, signing in and the idle lock
(``staff``, ``auth``, ``passwords``); who may do what (``permissions``); the unit of work
(``uow``), the tamper-evident audit trail every write lands in (``audit``) and the log
that reads it back and checks its chain (``audit_log``).
"""

"""The clinic itself and what every other area stands on.

The clinic's database, key, details, clock and letterhead (``clinics``, ``keys``, ``clock``,
``printing``); providers, rooms and services (``catalog``); staff, signing in (``staff``,
``auth``, ``passwords``); who may do what (``permissions``); the unit of work (``uow``), the
tamper-evident audit trail every write lands in (``audit``) and its log (``audit_log``).
"""

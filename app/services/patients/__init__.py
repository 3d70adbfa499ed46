"""A patient's record and everything filed in it.

The record itself, its duplicates and appointment history (``records``), finding patients
(``search``), phone numbers (``phones``), the journey and its pipeline board (``journey``),
merging two records of one person (``merge``); insurance, consultation notes, consent
forms, documents, the communication log and the work queue (``tasks``); the intake form,
referral letters and what happens to a printed document (``print_jobs``).
"""

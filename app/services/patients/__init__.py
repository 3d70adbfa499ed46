"""A patient's record and everything filed in it.

Demographics, search, duplicates, merging and the journey (``records``); insurance,
consultation notes, consent forms, documents, the communication log and the work queue
(``tasks``); the intake form, referral letters and what happens to a printed document
(``print_jobs``).
"""

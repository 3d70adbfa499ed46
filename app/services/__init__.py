"""The domain: plain Python, no Qt.  Each public function opens one unit of work.

One sub-package per area, like ``app/ui``: ``clinic`` (who is signed in, what they may
do, the audit trail, the unit of work, the clinic's settings and resources),
``scheduling``, ``patients`` and ``billing``.  ``errors`` is shared by all of them.
"""

"""The domain: plain Python, no Qt.  Each public function opens one unit of work."""

"""The appointment book: day, week and month views."""

"""The Reports page: the month-end figures, section by section, with their trends."""

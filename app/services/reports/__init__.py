"""The owner's reports: the month-end figures, each defined once (docs/reports.md)."""

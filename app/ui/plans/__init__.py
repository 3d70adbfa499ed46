"""Treatment plans, payment plans and payments: record tabs, windows, the Plans page."""

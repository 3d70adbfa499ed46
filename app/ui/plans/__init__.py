"""Treatment plans, payment plans and payments: the record tabs, windows and the Plans & Payments page."""

"""The owner's Settings page: one tab per area (clinic details, staff accounts, …)."""

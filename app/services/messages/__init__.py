"""Reminders and messages: templates, rules, the outbox and the sender that delivers e-mail and texts."""

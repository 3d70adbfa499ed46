"""Messages in the window: the Outbox page, the background sender, and the dialog that sends
a message by hand to one patient or to the patients picked on a list."""

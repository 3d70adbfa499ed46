"""The contacts directory's windows: the Contacts page, the contact dialog, merging two
contacts, the CSV import, and the ContactPicker other windows choose a contact with."""

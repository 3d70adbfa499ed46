"""The contacts directory: payers, specialists, referring providers, labs, pharmacies and
other clinics — found as you type, added, changed, deactivated, merged and imported.

- :mod:`.directory`: reading, the form's rules, add / edit / deactivate / reactivate, the
  possible-duplicates warning and the pickers' choices;
- :mod:`.merging`: folding a duplicate into the contact kept (every reference moves);
- :mod:`.importing`: a simple CSV import, all or nothing.
"""

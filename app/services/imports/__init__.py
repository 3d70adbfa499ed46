"""Moving in: files from a clinic's previous system imported into CareDesk.

- :mod:`.common`: what the steps hand each other (a mapped row, the import request, rejects).
- :mod:`.sources`: reading a CSV (any delimiter; UTF-8, UTF-8 with BOM, Windows-1252, UTF-16)
  or XLSX file into rows, and saying clearly why a file cannot be read.
- :mod:`.mappings`: the fields each kind of import fills, the ready-made column mappings of
  common systems' exports, guessing and remembering a mapping per source.
- :mod:`.values`: a cell's text as a date (in the order the clinic chose), a phone, an e-mail,
  money, a yes/no, a duration.
- :mod:`.patients`, :mod:`.appointments`, :mod:`.balances`, :mod:`.contacts`: each kind's rows
  checked against the clinic's data (created, updated, skipped or rejected, with the reason).
- :mod:`.batches`: the dry run, the import in one transaction (progress, Cancel), the rejects
  file, the import history, and undoing an import as a whole the same day.
"""

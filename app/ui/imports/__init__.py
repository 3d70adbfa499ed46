"""Moving in: File → Import from another system… (a wizard: the file, its columns, the
appointments' names, the dry run, the import) and File → Import history… (undo an import
the day it was made)."""

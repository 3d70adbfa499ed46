"""The Patients area: search page, patient record windows, notes, insurance and the pipeline."""

"""Moving out: a patient's record and the whole clinic's data, in open formats.

- :mod:`.fhir`: our rows as FHIR R4 resources (JSON-ready dicts), the path of a document's
  file inside an export (``document_path``), a patient's Bundle and the clinic's resources
  streamed for NDJSON (``clinic_resources``).
- :mod:`.patient_record`: a patient's record as one zip — a printed summary, the stored
  documents and the FHIR Bundle — given out as an audited disclosure (to whom, why).
- :mod:`.clinic`: the whole clinic's export (CSV tables, documents, FHIR NDJSON per resource
  type), encrypted.
- :mod:`.cells`: values as the CSV tables write them.
- :mod:`.dictionary`: the data dictionary that says what each table and column holds.
"""

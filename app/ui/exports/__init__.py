"""Moving out: a patient's record as a copy for whoever they name (an audited disclosure),
and the whole clinic's data for the owner."""

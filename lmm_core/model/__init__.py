"""The Large Movement Model at inference: features, the numpy runtime and the tasks. No torch here."""

"""The DVC stages (validate_data, split, train, evaluate, validate_model) and what they share:
the model Pipeline, the metrics and the Deepchecks suites."""

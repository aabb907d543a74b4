"""Production monitoring: read prediction logs and feedback, compare with training, alert."""

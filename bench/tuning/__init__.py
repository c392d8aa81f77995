"""The tuning engine: valid pairings, search spaces, the Optuna loop per pairing, metrics, controls and timing."""

"""Where scores and labels become actions: scan API, thresholds, hash banks, reports."""

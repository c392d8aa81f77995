"""Reports: leaderboard tables (Markdown, CSV, JSON, HTML) and plots rebuilt from the Optuna storage, and diffs."""

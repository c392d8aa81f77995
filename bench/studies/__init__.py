"""Side studies beside the leaderboard: learning curves, scaling with training size, speed levers."""

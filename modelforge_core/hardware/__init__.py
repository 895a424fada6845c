"""Hardware: readings of this machine, compute profiles, the memory estimator, recommendations."""

"""New adaptation methods benchmarked against the baselines (GalaxAlign lives here)."""

"""`bench perf`: training and embedding throughput, peak memory and model FLOP utilisation of each
method's real training step, beside a naive reference loop timed in the same run."""

"""The paper's baselines, each a plugin behind the bench Method interface."""

"""Conjugate posteriors and posterior probabilities (the statistics layer of the Bayesian designs)."""

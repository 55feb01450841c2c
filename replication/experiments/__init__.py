"""The experiment layer under every chapter: the runner (grids of models x seeds x settings, two processes, a
cache) and the claims module (paired tests, non-inferiority, Holm, sensitivity)."""

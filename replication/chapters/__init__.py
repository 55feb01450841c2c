"""One module per chapter of the book: its parameters (the papers' defaults), `run(**params)` (the experiments,
through the runner), figures and tables (one short function each), `numbers(result)` (the values the prose
quotes) and `claims(result)` (the verdicts). The chapter notebooks are narrative plus short calls into these."""

"""replication: data, models, metrics and results behind the book on explainable autoencoders."""

__version__ = "0.1.0"

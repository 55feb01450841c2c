"""Errors raised on bad input: each message names the file, row or value at fault and what was expected."""


class DataError(ValueError):
    """A data file is missing, malformed, or fails its checksum."""


class ChecksumError(DataError):
    """A downloaded or cached archive does not match its expected SHA-256."""


class ConfigError(ValueError):
    """A parameter has a value outside the allowed set or range."""

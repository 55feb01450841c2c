"""Errors raised on bad input: each message names the file, row or value at fault and what was expected."""

import argparse
from typing import NoReturn


class DataError(ValueError):
    """A data file is missing, malformed, or fails its checksum."""


class ChecksumError(DataError):
    """A downloaded or cached archive does not match its expected SHA-256."""


class ConfigError(ValueError):
    """A parameter has a value outside the allowed set or range."""


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (exit status 2) naming the allowed values."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")

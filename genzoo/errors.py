"""Errors that reach the user as one clear line (the CLI prints them without a traceback)."""


class GenzooError(Exception):
    """A problem the user can fix: a bad argument, file, value or missing data."""


class DataError(GenzooError):
    """A dataset could not be found, verified or read; the message names the file."""


class ConfigError(GenzooError):
    """A configuration value is unknown or has the wrong type."""


class TrainingDiverged(GenzooError):
    """A loss became NaN or infinite; the message names the step and the loss."""

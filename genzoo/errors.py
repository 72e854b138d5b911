"""Errors that reach the user as one clear line (the CLI prints them without a traceback)."""


class GenzooError(Exception):
    """A problem the user can fix: a bad argument, file, value or missing data."""


class DataError(GenzooError):
    """A dataset could not be found, verified or read; the message names the file."""


class ConfigError(GenzooError):
    """A configuration value is unknown or has the wrong type."""


class TrainingDiverged(GenzooError):
    """A loss became NaN or infinite; the message names the step and the loss."""


class WriteError(GenzooError):
    """A file could not be written (disk full, read-only folder); the message names the path.

    ``partial`` holds what was computed before the write failed (e.g. evaluation results), if any.
    """

    def __init__(self, message: str, partial: object = None) -> None:
        super().__init__(message)
        self.partial = partial


class RunInterrupted(Exception):
    """SIGINT or SIGTERM stopped a run after it saved; the CLI exits with 128 + the signal number."""

    def __init__(self, signal_name: str, run_dir: object) -> None:
        import signal

        super().__init__(f"stopped by {signal_name}")
        self.signal_name, self.run_dir = signal_name, run_dir
        self.exit_status = 128 + int(signal.Signals[signal_name])

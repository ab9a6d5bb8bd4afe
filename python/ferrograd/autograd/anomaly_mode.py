"""Anomaly detection: a NaN produced in backward raises an error naming the forward op that
created it, with the forward traceback as a warning (process-wide, like PyTorch's)."""

from .. import _C

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]

is_anomaly_enabled = _C.is_anomaly_enabled


class detect_anomaly:
    """Context manager enabling anomaly detection inside the block."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan
        self.prev = _C.is_anomaly_enabled()

    def __enter__(self):
        self.prev = _C.is_anomaly_enabled()
        _C._set_anomaly_enabled(self.check_nan)

    def __exit__(self, *args):
        _C._set_anomaly_enabled(self.prev)
        return False


class set_detect_anomaly:
    """``set_detect_anomaly(mode)``: sets anomaly mode now; as a context manager, restores it."""

    def __init__(self, mode, check_nan=True):
        self.prev = _C.is_anomaly_enabled()
        _C._set_anomaly_enabled(bool(mode) and check_nan)

    def __enter__(self):
        pass

    def __exit__(self, *args):
        _C._set_anomaly_enabled(self.prev)
        return False

"""Publish QSC trade intents into the shared-memory ring from Python (ctypes over libqsc_ring.so).

One call per event::

    import qsc_ring
    with qsc_ring.Producer("qsc_trade_intent") as ring:
        ring.publish({"symbol": "BTCUSDT", "side": "BUY", "confidence": 0.71,
                      "model_breakdown": {"xgb": {"action": "BUY", "confidence": 0.82,
                                                  "model": "xgboost"}}})

`publish` takes the payload of docs/design.md's telemetry contract as a dict (serialised with
json.dumps, so NaN and Infinity reach the ring as confidence violations) or as JSON text. The
library is found through, in order: the `lib_path` argument, the QSC_RING_LIB environment
variable, a libqsc_ring.so beside this file or in ../lib, then the system's library path.
"""

import ctypes
import ctypes.util
import json
import os
import threading

__all__ = ["Producer", "RingError", "remove", "layout_version", "load_library"]

OK = 0
EINVAL = -1
EREFUSED = -2
EOVERRUN = -3
EOPEN = -4


class RingError(Exception):
    """A failed ring call; `code` is the C ABI's negative return code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


_lib = None
_lib_lock = threading.Lock()


def _candidates(lib_path):
    if lib_path:
        yield lib_path
    env = os.environ.get("QSC_RING_LIB")
    if env:
        yield env
    here = os.path.dirname(os.path.abspath(__file__))
    yield os.path.join(here, "libqsc_ring.so")
    yield os.path.join(here, "..", "lib", "libqsc_ring.so")
    found = ctypes.util.find_library("qsc_ring")
    if found:
        yield found


def load_library(lib_path=None):
    """Loads libqsc_ring.so once (see the module doc for where it is looked for)."""
    global _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        errors = []
        for candidate in _candidates(lib_path):
            try:
                lib = ctypes.CDLL(candidate)
            except OSError as exc:
                errors.append("%s: %s" % (candidate, exc))
                continue
            lib.qsc_ring_layout_version.restype = ctypes.c_uint32
            lib.qsc_ring_layout_version.argtypes = []
            lib.qsc_ring_default_capacity.restype = ctypes.c_uint64
            lib.qsc_ring_default_capacity.argtypes = []
            lib.qsc_ring_producer_open.restype = ctypes.c_void_p
            lib.qsc_ring_producer_open.argtypes = [ctypes.c_char_p, ctypes.c_uint64]
            lib.qsc_ring_publish_json.restype = ctypes.c_int
            lib.qsc_ring_publish_json.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                                  ctypes.c_size_t, ctypes.c_uint64,
                                                  ctypes.c_uint64]
            lib.qsc_ring_producer_close.restype = None
            lib.qsc_ring_producer_close.argtypes = [ctypes.c_void_p]
            lib.qsc_ring_remove.restype = ctypes.c_int
            lib.qsc_ring_remove.argtypes = [ctypes.c_char_p]
            lib.qsc_ring_last_error.restype = ctypes.c_char_p
            lib.qsc_ring_last_error.argtypes = []
            _lib = lib
            return lib
        raise RingError(EOPEN, "libqsc_ring.so not found; set QSC_RING_LIB to its path (tried: "
                        + "; ".join(errors or ["nothing"]) + ")")


def _last_error(lib):
    message = lib.qsc_ring_last_error()
    return message.decode("utf-8", "replace") if message else ""


def layout_version(lib_path=None):
    """The ring layout version of the loaded library."""
    return load_library(lib_path).qsc_ring_layout_version()


def remove(name, lib_path=None):
    """Removes the ring's shared-memory object (no error if it does not exist)."""
    lib = load_library(lib_path)
    rc = lib.qsc_ring_remove(name.encode("utf-8"))
    if rc != OK:
        raise RingError(rc, _last_error(lib))


class Producer:
    """A producer attached to (or creating) the ring `name`. Use one per thread."""

    def __init__(self, name, capacity_records=0, lib_path=None):
        self._lib = load_library(lib_path)
        self._handle = self._lib.qsc_ring_producer_open(name.encode("utf-8"),
                                                        int(capacity_records))
        if not self._handle:
            raise RingError(EOPEN, _last_error(self._lib))
        self.name = name

    def publish(self, event, time_ms=0, seq=0):
        """Publishes one event: a payload dict, or its JSON text (str or bytes).

        `time_ms` is the event time in Unix milliseconds (0: now) and `seq` its sequence within
        that millisecond. Raises RingError when the event is unreadable, does not fit the ring
        layout (too many models, names too long) or was dropped by an overrun. An unreadable
        or unfitting event is still published, as a rejected entry with its ID and reason, so
        every consumer counts it (the rejected share) as it would a rejected Redis entry.
        """
        if self._handle is None:
            raise RingError(EINVAL, "publish on a closed producer")
        if isinstance(event, dict):
            data = json.dumps(event, allow_nan=True, separators=(",", ":")).encode("utf-8")
        elif isinstance(event, str):
            data = event.encode("utf-8")
        elif isinstance(event, (bytes, bytearray)):
            data = bytes(event)
        else:
            raise TypeError("publish takes a dict or JSON text, not %s" % type(event).__name__)
        rc = self._lib.qsc_ring_publish_json(self._handle, data, len(data), int(time_ms), int(seq))
        if rc != OK:
            raise RingError(rc, _last_error(self._lib))

    def close(self):
        """Detaches (the segment stays for its consumers). Safe to call twice."""
        if self._handle is not None:
            self._lib.qsc_ring_producer_close(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: nothing left to report to
            pass

"""mltrack's errors: one root, a small tree; every message says what to fix.

MltrackError ├── TrackingError        the tracking or registry store cannot be reached or used ├──
DataError            a dataset cannot be read, or a column the config names is missing ├──
QualityTooLow        the data-quality score is under the threshold (pass --force to train) ├──
LeakageFound         a leakage check failed (the message lists each finding) ├── GateRefused
a promotion gate failed (the message names the gate) ├── UnsafeModelFile      a model file would
need unpickling from an untrusted path └── LedgerError          the cost ledger's database cannot be
reached or written (ragline.mltrack.costs.ledger)
"""

from __future__ import annotations

from ragline.core.errors import RaglineError


class MltrackError(RaglineError):
    """The root of mltrack's errors."""


class TrackingError(MltrackError):
    """The tracking or registry store cannot be reached or used (URI, permissions, schema)."""


class DataError(MltrackError):
    """A dataset cannot be read, or a column the configuration names is missing."""


class QualityTooLow(MltrackError):
    """The data-quality score is under the threshold; training is refused unless forced."""


class LeakageFound(MltrackError):
    """A leakage check failed; the message lists each finding and how to fix it."""


class GateRefused(MltrackError):
    """A promotion gate failed; the message names the gate and the values it compared."""


class UnsafeModelFile(MltrackError):
    """Loading this model file would unpickle data from an untrusted path; refused."""

"""Plain values every layer passes around: JSON payloads, dense rows, sparse vectors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray

JsonScalar: TypeAlias = str | int | float | bool | None
JsonValue: TypeAlias = JsonScalar | list["JsonValue"] | dict[str, "JsonValue"]
Payload: TypeAlias = dict[str, JsonValue]
FloatMatrix: TypeAlias = NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class SparseVector:
    """Term weights keyed by hashed term ids (BM25 term frequencies; IDF comes from Qdrant).

    SparseVector(indices=[17, 4031], values=[1.3, 0.8])
    """

    indices: list[int]
    values: list[float]

"""The feature store's errors: a branch of mltrack's tree; every message says what to fix.

MltrackError
└── FeatureError             anything the feature registry or its stores refuse
    ├── FeatureNameError     a name is not `{entity}_{feature}_{window}_{aggregation}`
    ├── RegistryError        features.yaml is missing, unreadable or inconsistent
    └── OnlineStoreError     Redis cannot be reached or holds values of the wrong type

Input tables that lack a column or hold unparseable times raise `ragline.mltrack.errors.DataError`,
as everywhere in mltrack.
"""

from __future__ import annotations

from ragline.mltrack.errors import MltrackError


class FeatureError(MltrackError):
    """The root of the feature store's errors."""


class FeatureNameError(FeatureError, ValueError):
    """A feature name is not lower snake case `{entity}_{feature}_{window}_{aggregation}`.

    A ValueError too, so that pydantic validators turn it into a validation error.
    """


class RegistryError(FeatureError):
    """The registry file is missing, cannot be parsed, or contradicts itself."""


class OnlineStoreError(FeatureError):
    """The online store (Redis) cannot be reached, or a stored value does not decode."""

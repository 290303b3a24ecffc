"""The online write path: events as they arrive, through the one transformation, into Redis.

    writer = OnlineWriter(OnlineStore(url), registry, "grunfeld")
    writer.ingest(new_events)       # recompute each touched entity's latest row and write it

For each entity touched by a batch of events, the writer appends them to the entity's history,
calls `transform.compute_feature_rows` on that history alone (the function the offline store
runs over the whole table), and writes the last row. Keeping the whole history is what makes
serving equal training exactly; it is a replay and small-stream tool, not a stream processor
for unbounded histories.
"""

from __future__ import annotations

import pandas as pd

from ragline.mltrack.features.errors import RegistryError
from ragline.mltrack.features.online import OnlineStore
from ragline.mltrack.features.registry import FeatureRegistry
from ragline.mltrack.features.transform import check_columns, compute_feature_rows


class OnlineWriter:
    """Feeds events of one source table into the online store, entity by entity.

    Example:
        >>> writer = OnlineWriter(store, registry, "grunfeld")
        >>> writer.ingest(grunfeld_events().iloc[:5])    # five firms' 1935 figures
        5
    """

    def __init__(self, store: OnlineStore, registry: FeatureRegistry, table: str) -> None:
        self._store = store
        self._features = registry.for_source(table)
        if not self._features:
            raise RegistryError(f"no feature is defined on table {table!r}; add one first")
        self._source = registry.sources[table]
        self._entity = self._features[0].parsed.entity
        self._columns = [
            self._source.entity_key,
            self._source.timestamp_column,
            *dict.fromkeys(d.column for d in self._features),
        ]
        self._history: dict[object, pd.DataFrame] = {}

    def ingest(self, events: pd.DataFrame) -> int:
        """Take new events; returns how many entities' online rows were rewritten."""
        check_columns(events, self._columns, "the events")
        key = self._source.entity_key
        written = 0
        for entity_id, group in events[self._columns].groupby(key, sort=False):
            before = self._history.get(entity_id)
            history = group if before is None else pd.concat([before, group], ignore_index=True)
            rows = compute_feature_rows(history, self._features, self._source)
            written += self._store.write_rows(rows.iloc[-1:], key, self._entity, self._features)
            self._history[entity_id] = history
        return written

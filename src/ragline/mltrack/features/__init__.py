"""Feature registry with an offline (Parquet) and an online (Redis) store.

    registry = load_registry(Path("features.yaml"))           # registry: names, owners, issues
    table = materialize(events, registry, "grunfeld")         # transform: the one computation
    train = point_in_time_join(labels, table, "label_ts")     # offline: training sets
    OnlineStore(url).write_rows(...) / .read(...)              # online: serving lookups

Modules: `naming` (feature names), `registry` (features.yaml, catalogue), `transform` (events to
feature rows), `offline` (Parquet, point-in-time join), `online` (Redis), `stream` (the online
write path), `data` (the Grunfeld panel as events), `errors`. Import from the modules; this
package imports nothing, so that `import ragline.mltrack.features.naming` stays light.
"""

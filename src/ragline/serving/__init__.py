"""ragline's application layer: typed settings (`settings`), the one place that builds objects
from them (`wiring`: stores, embedders, routers, cost accounting), the work both doors call
(`services`), and the two doors: the `ragline` CLI (`cli`) and the HTTP API (`api`)."""

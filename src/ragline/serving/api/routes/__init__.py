"""The routes, one module per family (chat, rag, ingest, predict, and the open ops routes);
`v1.router` mounts the /v1 ones. Routes validate, call a service, serialise."""

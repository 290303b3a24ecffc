"""The HTTP API of `ragline serve`: an app factory, thin routes, typed schemas."""

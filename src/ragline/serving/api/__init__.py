"""The HTTP API of `ragline serve`: an app factory (`app`), thin routes (`routes`), typed wire
schemas (`schemas`), middleware, security and A/B traffic. Routes call `ragline.serving.services`
and the shared objects of `services.Services`; they never import the CLI."""

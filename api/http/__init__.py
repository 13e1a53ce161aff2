"""What the path operations stand on: the request dependencies of a release or a rows request,
the row renderers and response classes, caching headers, the problem+json handlers, OpenAPI and
the docs page. It never imports `api.routes`."""

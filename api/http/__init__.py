"""What the path operations stand on: the request dependencies of a release, a rows request or a
diff, the row renderers, page and problem+json responses, caching headers, the problem handlers,
OpenAPI and the docs page. It never imports `api.routes`."""

"""What changed between two releases of a package, and the SemVer bump the changes call for.

The pieces are pure: `shapes` pairs the resources of two releases, `schema` compares descriptors,
`rows` merge-joins key-ordered row streams, `release` adds them up into a `ReleaseDiff`.
The database (`api.db.diffsource`) and release folders (`api.ingest.release`) both feed them,
so the API and the command line report the same diff.
"""

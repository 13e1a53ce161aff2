"""Descriptions of releases for harvesters and readers: DCAT-AP 3, DCAT-US, CKAN, schema.org,
citations and descriptors, each built from the shared facts of `facts` and linked by `urls`."""

"""What the book needs and nothing a run needs: the claims registry and its statistics, chapter code, figures.

Nothing outside ``prunekit.paper`` imports it, and its source is left out of the records' source hash
(``experiments.SOURCE_HASH_EXCLUDES``): editing a chapter never makes a stored result stale.
"""

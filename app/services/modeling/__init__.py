"""Modeling (issue 7): the process owner's drafts, validation, deploys, versions, diffs and the migration of
running instances to a newer version."""

"""Delayed and unique jobs: the submitted fields that ask for them, and the promoter that
publishes scheduled jobs once due."""

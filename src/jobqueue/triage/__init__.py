"""Dead-letter triage: dead jobs grouped by error fingerprint, replayed or purged by group."""

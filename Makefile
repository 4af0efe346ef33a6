# Every target sets up .venv itself (scripts/bootstrap), so each works on a fresh clone.
.PHONY: run test lint typecheck proto proto-check bench fmt

run:
	./scripts/run

test:
	./scripts/test

lint:
	./scripts/bootstrap
	.venv/bin/ruff check src tests benchmarks scripts
	.venv/bin/ruff format --check src tests benchmarks

fmt:
	./scripts/bootstrap
	.venv/bin/ruff check --fix src tests benchmarks
	.venv/bin/ruff format src tests benchmarks

typecheck:
	./scripts/bootstrap
	.venv/bin/mypy src

proto:
	./scripts/bootstrap
	.venv/bin/python scripts/proto

proto-check:
	./scripts/bootstrap
	.venv/bin/python scripts/proto --check

bench:
	./scripts/bootstrap
	.venv/bin/python -m benchmarks

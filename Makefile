# One command per routine. `make help` lists them.
.PHONY: help dev demo test test-rust test-python lint fmt bench bench-rust

help:           ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

dev:            ## build the extension in place (editable install)
	pip install -e ".[test]"

demo:           ## run the autograd tutorial
	python examples/autograd_tutorial.py

test: test-python test-rust ## all tests

test-python:    ## pytest (hypothesis profile: HYPOTHESIS_PROFILE=ci|dev)
	python -m pytest

test-rust:      ## cargo test (no Python needed)
	cargo test

lint:           ## rustfmt, clippy, ruff
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --all-targets --features python -- -D warnings
	ruff check python tests examples benches
	ruff format --check python tests examples benches

fmt:            ## format Rust and Python
	cargo fmt
	ruff format python tests examples benches

bench-rust:     ## criterion benchmarks of the core
	cargo bench --bench core

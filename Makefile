# Glossa's make targets. `make test` is the one test command: README and CI run it.
.PHONY: run test bench build vet

run:
	go run ./cmd/glossa

build:
	go build -o bin/glossa ./cmd/glossa

# test installs what it needs (PostgreSQL, Chromium), starts a throwaway
# PostgreSQL cluster and runs every test against SQLite and PostgreSQL.
test:
	./scripts/test.sh

# bench runs the benchmarks on both engines; see BENCHMARKS.md.
bench:
	./scripts/test.sh bench

vet:
	go vet ./...

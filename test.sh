#!/usr/bin/env bash
# Runs every check a change must pass: formatting, vet on every platform we
# build for, and the whole test suite with the race detector.
set -euo pipefail
cd "$(dirname "$0")"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
GOOS=darwin go vet ./...
GOOS=windows go build ./...
GOOS=windows go vet ./...
go test -race -count=1 -timeout 20m ./...
# The SQLite example is a module of its own (its driver is no dependency of
# spool's): vet and test it too.
(cd examples/sqlite-offsets && go vet ./... && go test -race -count=1 ./...)
# Tests that push hundreds of MiB through the codecs and measure memory: the
# race detector would make them ten times slower and adds nothing to them.
go test -count=1 -run 'TestDecompressionBomb|TestDecompressLimitBoundary' ./internal/codec/

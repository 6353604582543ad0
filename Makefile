# mediavec — make targets. `make test` and `make demo` each work alone on a
# fresh Debian 12 machine with Go (as root, or with sudo for apt).
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin
GO ?= go

.PHONY: all setup build test vet fmt-check demo clean

all: build

setup:
	@./scripts/setup

build: setup
	$(GO) build -o bin/mediavec ./cmd/mediavec

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

test: setup vet fmt-check
	$(GO) test -race -count=1 -timeout 20m ./...

demo: build
	@./scripts/demo

clean:
	rm -rf bin .demo

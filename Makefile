# vmdispatch — see README.md.
GO ?= go
PKGS := ./...

.PHONY: build test bench lint fuzz clean

build:
	$(GO) build -o bin/vmdispatch ./cmd/vmdispatch

# test runs every unit test and every scenario (the README's test command).
test: lint
	$(GO) test -count=1 $(PKGS)

# bench runs the engine and simulator benchmarks; see README.md for the
# figures and how to read them.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./engine/ ./sim/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf bin

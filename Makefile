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

# fuzz runs a long campaign: 1000 seeds of 6 simulated hours, every
# fault class (see README.md; the short one runs in make test).
fuzz: build
	./bin/vmdispatch sim fuzz --seeds 1000 --hours 6 --shrink-out fuzz-shrunk

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

clean:
	rm -rf bin

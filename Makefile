# vmdispatch — see README.md.
GO ?= go
PKGS := ./...

.PHONY: build test bench lint fuzz clean package

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

# package builds dist/vmdispatch_<version>_<arch>.deb from packaging/
# (nfpm.yaml: the binary, the systemd unit, docs, an example config).
# VERSION is packaging/version.sh's Debian version of git describe, ARCH
# the Go architecture; override on the command line (make package
# VERSION=1.2.3), not from the environment. .ci/package-check tests it.
VERSION = $(shell packaging/version.sh)
ARCH = $(shell $(GO) env GOARCH)

package:
	CGO_ENABLED=0 GOOS=linux GOARCH=$(ARCH) $(GO) build -trimpath \
		-ldflags "-s -w -X main.version=$(VERSION)" -o bin/vmdispatch ./cmd/vmdispatch
	mkdir -p dist
	rm -f dist/vmdispatch_*.deb
	VERSION='$(VERSION)' ARCH='$(ARCH)' $(GO) tool nfpm package --packager deb \
		--config packaging/nfpm.yaml --target dist/

clean:
	rm -rf bin dist

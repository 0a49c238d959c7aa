# tacit: `make run` sets up and runs locally; `make test` runs every test.
# Set CLICKHOUSE_URL=http://host:8123 to use a real ClickHouse server instead
# of the local engine (scripts/clickhouse-dev).

SHELL := /bin/bash
CLICKHOUSE_DEV_PORT ?= 8123
export CLICKHOUSE_DEV_PORT
CH_URL := $(if $(CLICKHOUSE_URL),$(CLICKHOUSE_URL),http://127.0.0.1:$(CLICKHOUSE_DEV_PORT))
export TEST_CLICKHOUSE_URL := $(CH_URL)

.PHONY: run test setup data clickhouse build release bench bench-analytics bench-visits bench-import bench-audit bench-load bench-sustained bench-hostile bench-dashboard fuzz fmt lint clean stop-clickhouse

setup:
	scripts/setup

data: setup
	scripts/fetch-data

clickhouse: setup
	scripts/clickhouse-ensure

build:
	cargo build --release

run: clickhouse data build
	TACIT_CLICKHOUSE_URL=$(CH_URL) target/release/tacit --config tacit.toml serve --migrate

test: clickhouse data lint
	scripts/setup --test
	scripts/check-deploy
	cargo test --all-targets

bench: clickhouse data
	cargo bench --bench hot_path
	TEST_CLICKHOUSE_URL=$(CH_URL) cargo bench --bench sink

# 10 million events through the pipeline into ClickHouse, then the cookbook
# timed over 30 days (TACIT_BENCH_EVENTS to change the volume).
bench-analytics: clickhouse data
	TEST_CLICKHOUSE_URL=$(CH_URL) cargo bench --bench analytics

# The dashboard's first paint in headless Chromium on data already loaded
# (by bench-analytics; BENCH_CH_URL, BENCH_DB, BENCH_SITE, BENCH_PERIOD).
bench-dashboard: build
	BENCH_CH_URL=$${BENCH_CH_URL:-$(CH_URL)} TACIT_BIN=target/release/tacit scripts/bench-dashboard

# A whole day of hits through the pipeline and sink, with and without visit
# fragment ids: engine CPU per event, collector CPU per hit, one read of the
# open day's visits, the day's rollup (TACIT_VISITS_MODES,
# TACIT_VISITS_EVENTS).
bench-visits: clickhouse data
	TEST_CLICKHOUSE_URL=$(CH_URL) cargo bench --bench visits

# A generated 1,000,000-line access log through `tacit import`: lines/s
# through the pipeline alone and end to end into the engine (with both
# sides' CPU), peak RSS (TACIT_IMPORT_LINES to change the volume).
bench-import: clickhouse data
	TEST_CLICKHOUSE_URL=$(CH_URL) cargo bench --bench import

# The partner audit on a month of one partner's daily, weekly and monthly
# releases of a 3-dimension export (synthetic, no engine; target < 2 s).
bench-audit:
	cargo bench --bench audit

# tacit vs nginx empty_gif under the same wrk load, then an overload run
# (benches/load.py; LOAD_SECONDS, LOAD_ROUNDS, LOAD_CONNS to change).
bench-load: clickhouse data
	scripts/setup --load
	cargo build --release
	python3 benches/load.py

# tacit (log on, both durabilities) and nginx under constant-rate load (benches/pace.rs), step by step: the highest
# rate tacit sustains as a ratio to nginx's (benches/sustained.py).
bench-sustained: clickhouse data
	scripts/setup --load
	cargo build --release
	python3 benches/sustained.py

# Normal hits while one client sends 300 KB user agents at a fixed rate.
bench-hostile: clickhouse data
	scripts/setup --load
	cargo build --release
	python3 benches/hostile_ua.py

# Each fuzz target for FUZZ_SECONDS (default 60) with cargo-fuzz on the
# nightly toolchain; new corpus entries land in fuzz/corpus/ (commit the
# useful ones: `make test` replays them all).
FUZZ_SECONDS ?= 60
fuzz:
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cd fuzz && for t in decode_query decode_json client_ip url_scrub log_record config; do \
	  cargo +nightly fuzz run -O $$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 2>&1 | grep -E "stat::number_of_executed_units|ERROR|Done" ; done

fmt:
	cargo fmt --all

# rustfmt, clippy (warnings are errors) and a //! doc on every module.
lint:
	scripts/lint

stop-clickhouse:
	-kill $$(cat .tacit/clickhouse-dev.pid) 2>/dev/null; rm -f .tacit/clickhouse-dev.pid

clean: stop-clickhouse
	cargo clean; rm -rf .tacit

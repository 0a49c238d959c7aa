# tacit's container image (issue 14). Build from the repository root:
#
#   docker build -t tacit:0.1.0 .
#
# Stage 1 builds the binary with the locked dependencies and fetches the
# enrichment data from the package registries with the project's own script
# (uap-core rules, bot lists, referrers, the DB-IP country database).
# Stage 2 is a small runtime image: the binary, that data, a non-root user.
# Run it with a read-only root filesystem; only the write-ahead log volume
# (/var/lib/tacit) needs to be writable. Mount the configuration at
# /etc/tacit/tacit.toml (k8s/ does, from a ConfigMap); every key can also be
# set by environment (TACIT_<SECTION>_<KEY>). A newer GeoIP database can be
# mounted over /opt/tacit/.tacit/vendor/dbip-country.mmdb, or named in
# `enrich.geoip` in tacit.toml.

FROM rust:1.95-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends nodejs npm python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY schema ./schema
COPY docs ./docs
COPY tracker ./tracker
COPY benches ./benches
COPY tests ./tests
COPY scripts ./scripts
RUN cargo build --release --locked --bin tacit \
 && SKIP_TEST_DATA=1 scripts/fetch-data

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin tacit \
 && mkdir -p /var/lib/tacit /etc/tacit \
 && chown 10001:10001 /var/lib/tacit
COPY --from=build /src/target/release/tacit /usr/local/bin/tacit
COPY --from=build /src/.tacit/vendor/regexes.yaml /src/.tacit/vendor/isbot.json /src/.tacit/vendor/crawlers.json /src/.tacit/vendor/referrers.json /src/.tacit/vendor/dbip-country.mmdb /opt/tacit/.tacit/vendor/
WORKDIR /opt/tacit
USER 10001:10001
EXPOSE 8080 8081 8082
VOLUME ["/var/lib/tacit"]
ENTRYPOINT ["/usr/local/bin/tacit"]
CMD ["--config", "/etc/tacit/tacit.toml", "serve"]

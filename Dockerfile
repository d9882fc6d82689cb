# syntax=docker/dockerfile:1

# Build: the release binary. The migrations are embedded in it at compile time
# (sqlx::migrate!), so the runtime image needs the binary and nothing else.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The cache mounts keep the crate registry and the build directory between builds; the
# binary is copied out in the same step because the target directory is not part of the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked \
    && cp target/release/rolegate /usr/local/bin/rolegate

# Run: Debian slim with CA certificates (TLS to a managed Postgres), as a non-root user.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --user-group --uid 10001 --home-dir /var/lib/rolegate --create-home \
        --shell /usr/sbin/nologin rolegate
COPY --from=build /usr/local/bin/rolegate /usr/local/bin/rolegate
USER rolegate:rolegate
# With the default DATABASE_URL (sqlite://rolegate.db) the SQLite file lands here; mount a
# volume on this directory to keep it, or set DATABASE_URL to a Postgres URL.
WORKDIR /var/lib/rolegate
ENV ROLEGATE_LISTEN=0.0.0.0:8080
EXPOSE 8080
# No HEALTHCHECK: the slim image has neither curl nor wget. Let the orchestrator probe
# GET /healthz (liveness) and GET /readyz (readiness) over HTTP.
ENTRYPOINT ["/usr/local/bin/rolegate"]

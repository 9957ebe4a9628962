# syntax=docker/dockerfile:1
# iam-alarm container image.
#   docker build -t iam-alarm .
#   docker run --read-only --env-file iam-alarm.env iam-alarm
# Multi-stage: dependencies build in their own cached layer; the final image holds only the binary.

# Base images pinned by digest, so a rebuild uses the bytes that were reviewed; refresh both deliberately with
# `docker buildx imagetools inspect IMAGE:TAG` and review the change.
FROM rust:1.95-slim-bookworm@sha256:d7482085ff5b415f84dba5647ae71606650bdef00db7aeb69f4b3d170c3e4082 AS build
WORKDIR /src
# Dependency layer: manifests and stub sources first, so code changes don't rebuild every crate.
COPY Cargo.toml Cargo.lock ./
COPY core/Cargo.toml core/Cargo.toml
COPY commands/Cargo.toml commands/Cargo.toml
RUN mkdir -p src core/src commands/src \
 && echo 'fn main() {}' > src/main.rs && touch src/lib.rs core/src/lib.rs commands/src/lib.rs \
 && cargo build --release --locked --bin iam-alarm \
 && rm -rf src core/src commands/src
COPY core/src core/src
COPY commands/src commands/src
COPY src src
RUN touch src/main.rs src/lib.rs core/src/lib.rs commands/src/lib.rs \
 && cargo build --release --locked --bin iam-alarm

# Distroless: CA certificates and glibc, no shell, no package manager; runs as the non-root user 65532.
FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f
COPY --from=build /src/target/release/iam-alarm /usr/local/bin/iam-alarm
USER 65532:65532
# /healthz for the HEALTHCHECK; the bot writes nothing to disk, so a read-only root file system works.
ENV HEALTH_ADDR=127.0.0.1:8080
# One JSON object per line: what log collectors read, and no field can forge a line of its own.
ENV LOG_FORMAT=json
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/iam-alarm", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/iam-alarm"]
CMD ["run"]

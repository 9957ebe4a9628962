# syntax=docker/dockerfile:1
# Build: docker build -t iam-alarm .
# Multi-stage: dependencies are built in their own cached layer, the final image holds only the binary.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Dependency layer: manifests and empty sources first, so code changes don't rebuild every crate.
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

# Distroless "cc" carries CA certificates and glibc, runs as non-root, and has no shell.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/iam-alarm /usr/local/bin/iam-alarm
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/iam-alarm"]
CMD ["run"]

# mqlcal serve in a container. Build, then run with the model directory and the token mounted:
#
#   docker build -t mqlcal .
#   docker run -p 8080:8080 -v "$PWD/models:/models:ro" \
#     -v "$PWD/token:/run/secrets/mqlcal-token:ro" mqlcal
#
# The image scores with whatever models/current.json points at, and follows it: promote a new
# version on the host (`mqlcal models promote --dir models ...`) and the container picks it up.
# Checked in CI by hadolint and by running this CMD against the real binary (tests/it/serve.rs).

# The project's one build profile (Cargo.toml: the dev profile, optimised); the first build
# compiles polars, about 10 minutes on 2 cores.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --locked --bin mqlcal \
    && cp target/debug/mqlcal /usr/local/bin/mqlcal

FROM debian:bookworm-slim
COPY --from=build /usr/local/bin/mqlcal /usr/local/bin/mqlcal
RUN useradd --system --uid 10001 --no-create-home mqlcal
USER 10001
EXPOSE 8080
# Not loopback inside a container (the port is published), so a token is given.
ENTRYPOINT ["/usr/local/bin/mqlcal", "serve"]
CMD ["--dir", "/models", "--listen", "0.0.0.0:8080", "--token-file", "/run/secrets/mqlcal-token", "-v"]

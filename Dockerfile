# leakstop's container image, for `leakstop org scan` on Kubernetes
# (deploy/kubernetes/) or any container runner. The org scan fetches with
# the git binary, so the runtime image carries git; it runs as a non-root
# user and holds no credential: GITHUB_TOKEN, the GitHub App key and the
# state DSN come from the environment or mounted files at run time.
#
#   docker build -t leakstop:dev --build-arg VERSION=0.1.0 .
#   docker run --rm -e GITHUB_TOKEN leakstop:dev org scan --org ACME \
#     --state "$LEAKSTOP_STATE_DSN" --cache /cache
#
# docs/org-scans.md explains the deployments; deploy/deploy_test.go checks
# this file's essentials.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/leakstop ./cmd/leakstop

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 leakstop \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /home/leakstop leakstop \
 && mkdir -p /cache \
 && chown 10001:10001 /cache
COPY --from=build /out/leakstop /usr/local/bin/leakstop
USER 10001:10001
WORKDIR /home/leakstop
# The mirror cache: mount a volume here and pass --cache /cache.
ENV XDG_CACHE_HOME=/cache
ENTRYPOINT ["leakstop"]
CMD ["--help"]

# syntax=docker/dockerfile:1
#
# The promobot image: a static binary on distroless, running as non-root,
# for CI systems that can pull registry images.
#
#   docker build -t promobot --build-arg VERSION=$(git describe --always --dirty) .
#   docker run --rm promobot --help
#
# `make image` builds the same layout FROM scratch with podman and nothing
# pulled (build/Containerfile, build/image.sh); test/chart checks the two
# agree. The chart in charts/promobot runs it with a read-only root
# filesystem, the data directory on a volume and /tmp on an emptyDir.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first, so source edits reuse the downloaded modules layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/promobot ./cmd/promobot
# An empty data directory owned by the runtime user, for `docker run` without
# a volume (the default --data-dir is relative to the working directory).
RUN mkdir -p /out/data

# distroless/static: CA certificates, /etc/passwd with nonroot (65532), no
# shell and no package manager (time zones are compiled into the binary).
FROM gcr.io/distroless/static:nonroot
COPY --from=build /out/promobot /promobot
COPY --from=build --chown=65532:65532 /out/data /var/lib/promobot
WORKDIR /var/lib/promobot
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/promobot"]
CMD ["serve"]

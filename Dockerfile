# syntax=docker/dockerfile:1
# restored as a container: one static binary (pure Go: the SQLite driver is
# too), run as a non-root user. Build: docker build -t restored .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# -trimpath and no cgo: reproducible, static, runs on any base.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/restored ./cmd/restored

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/restored /restored
# Data dir for the SQLite default; production sets RESTORED_DATABASE_URL.
ENV RESTORED_DATA_DIR=/data RESTORED_ADDR=:8080 RESTORED_LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/restored"]
CMD ["serve"]

# syntax=docker/dockerfile:1
# Build stage: the README's install command (`npm ci`, whose prepare script runs the build: tsc, then the
# Kubernetes client bundle of scripts/bundle-k8s.mjs, then the agent's bundle of scripts/bundle.mjs that bin/telekit.js runs).
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY agent agent
COPY cli cli
COPY inputs inputs
COPY bin bin
COPY scripts/bundle-k8s.mjs scripts/bundle.mjs scripts/
RUN npm ci

# Runtime: production dependencies and the compiled output only.
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    ENV_CONF_DIR=/usr/local/telekit/conf.d \
    ENV_DATA_DIR=/usr/local/telekit/data
# glibc's malloc serves blocks of 128 KiB and more (batch and gzip buffers) from fresh mappings it returns on
# free, instead of raising that threshold to the largest block freed and keeping such blocks in its heaps:
# 100 Prometheus targets every second held 98-100 MiB RSS with it, 116-117 without (BENCHMARKS.md, Prometheus, session 8)
ENV MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /usr/local/telekit
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY bin ./bin
# conf.d holds samples only, as DataKit's image does: inputs start from ENV_DEFAULT_ENABLED_INPUTS or from
# mounted confs (here, or under /usr/local/datakit/conf.d as a DataKit DaemonSet mounts them), never twice.
COPY conf.d ./conf.d
RUN find conf.d -name '*.conf' -delete
ENV ENV_DEFAULT_ENABLED_INPUTS=cpu,ddtrace,disk,diskio,hostobject,mem,net,statsd,swap,system,zipkin
RUN mkdir -p data && chown node:node data
# Non-root by default; the DaemonSet runs it as root (capabilities dropped) where /var/log/pods is root-only.
USER node
VOLUME ["/usr/local/telekit/data"]
EXPOSE 9529/tcp 8125/udp
HEALTHCHECK --interval=15s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:9529/v1/ping').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/usr/local/telekit/bin/telekit.js", "run"]

# xmppd container image: `docker build -t xmppd:0.1.0 .`, then
#   docker run -p 5222:5222 -p 5223:5223 -v xmppd-data:/var/lib/xmppd -e XMPPD_HOSTS='[chat.example.com]' xmppd:0.1.0
# Configuration: /etc/xmppd/xmppd.yaml (deploy/container.yaml; mount your own over it) and XMPPD_* variables
# (README, "Configuration from the environment"). Kubernetes: deploy/kubernetes/.

# 1. Build: the compiler and the dev dependencies stay in this stage.
FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the "prepare" script compiles, and the sources are not here yet; LevelDB ships prebuilt binaries.
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
COPY modules ./modules
COPY hooks ./hooks
COPY test ./test
RUN npx tsc -p tsconfig.json

# 2. Runtime dependencies only.
FROM node:20-slim AS deps
WORKDIR /opt/xmppd
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# 3. Runtime: node:20-slim, a non-root user, the data on a volume.
FROM node:20-slim
ENV NODE_ENV=production \
    XMPPD_CONFIG=/etc/xmppd/xmppd.yaml
RUN groupadd --system --gid 10001 xmppd \
 && useradd --system --uid 10001 --gid xmppd --home-dir /var/lib/xmppd --shell /usr/sbin/nologin xmppd \
 && mkdir -p /var/lib/xmppd /etc/xmppd \
 && chown xmppd:xmppd /var/lib/xmppd \
 && chmod 0700 /var/lib/xmppd
WORKDIR /opt/xmppd
COPY --from=deps /opt/xmppd/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/dist/modules ./dist/modules
COPY --from=build /src/dist/hooks ./dist/hooks
COPY package.json ./
COPY bin ./bin
COPY config/xmppd.example.yaml ./config/xmppd.example.yaml
COPY deploy/container.yaml /etc/xmppd/xmppd.yaml
USER xmppd
VOLUME ["/var/lib/xmppd"]
# c2s (STARTTLS), c2s direct TLS, s2s, HTTP (/healthz, /readyz, /metrics, admin API: keep it off the internet)
EXPOSE 5222 5223 5269 5280
# node:20-slim has no curl: Node's own fetch asks the liveness endpoint.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:5280/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM drains the node: clients get see-other-host (cluster.see_other_host) or system-shutdown, nothing is lost.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/opt/xmppd/bin/xmppd.js"]
CMD ["start"]

# baton: build with the dev toolchain, run on a slim image as a non-root user.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm ci && npm prune --omit=dev

FROM node:20-bookworm-slim
# Lets the non-root user bind ports 80 and 443.
RUN apt-get update && apt-get install -y --no-install-recommends libcap2-bin \
 && setcap cap_net_bind_service=+ep /usr/local/bin/node \
 && apt-get purge -y libcap2-bin && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY config ./config
# Operator maintenance marks survive restarts here (mount a volume to keep them across containers).
RUN mkdir -p /var/lib/baton && chown node:node /var/lib/baton
ENV NODE_ENV=production BATON_STATE_FILE=/var/lib/baton/state.json
# Configuration by environment: BATON_MARATHON, BATON_MESOS, BATON_REALM, BATON_HTTP, BATON_HTTPS,
# BATON_CERTS, BATON_SERVICE_BIND, BATON_ADMIN, BATON_DOMAIN, BATON_LOG_LEVEL, BATON_LOG_FORMAT,
# BATON_ACCESS_LOG, BATON_ACCESS_LOG_SAMPLE, BATON_WORKERS, BATON_MARATHON_CREDENTIALS,
# BATON_MARATHON_TOKEN, BATON_ADMIN_TOKEN, BATON_ADMIN_TOKEN_FILE, BATON_STATE_FILE, BATON_CONFIG.
# 80: HTTP (and h2c), 443: HTTPS when BATON_HTTPS=0.0.0.0:443, 9090: admin (loopback unless BATON_ADMIN says otherwise).
EXPOSE 80 443 9090
USER node
# SIGTERM drains (shutdownGraceMs, 10 s by default): give `docker stop` more, e.g. --stop-timeout 15.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD node -e "fetch('http://127.0.0.1:9090/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "dist/cli.js"]

# syntax=docker/dockerfile:1
# matchflow image: `docker build -t matchflow:dev .`
# Runs `node dist/cli/main.js <command>`: worker | scrape | migrate | queue status | dlq ...

# --- build: all dependencies, compile TypeScript to dist/ ---------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the `prepare` script builds, and the sources are not copied yet.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- runtime: production dependencies only, non-root, no build tools ----------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY scripts/patch-amqplib.mjs ./scripts/
# --ignore-scripts skips npm's postinstall: the one patch it applies (amqplib reading py-amqp's
# 64-bit integers) is applied here by name.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && node scripts/patch-amqplib.mjs && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
COPY schema ./schema
COPY samples ./samples
# The image's `node` user, by number so Kubernetes can verify runAsNonRoot.
USER 1000:1000
EXPOSE 9808
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["--help"]

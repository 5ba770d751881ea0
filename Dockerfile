# One image for postroom-worker, the m365-emulator and the postroom CLI. It runs the TypeScript
# sources through tsx, as the repository's own scripts do, so no build step is needed.
FROM node:20-slim

WORKDIR /app

# Manifests first, so that the dependency layer is rebuilt only when they change. Every
# workspace package needs its package.json here; add a line when you add a workspace.
COPY package.json package-lock.json .npmrc ./
COPY packages/core/package.json packages/core/
COPY packages/client/package.json packages/client/
COPY apps/worker/package.json apps/worker/
COPY apps/cli/package.json apps/cli/
COPY apps/m365-emulator/package.json apps/m365-emulator/
# devDependencies stay: tsx runs the sources.
RUN npm ci --no-audit --no-fund && npm cache clean --force

COPY . .

# The emulator writes its CA certificate here; in docker-compose a volume shares it with workers.
RUN mkdir -p /emulator-state && chown node:node /emulator-state
USER node

EXPOSE 9464
CMD ["node", "--conditions=source", "--import", "tsx", "apps/worker/src/main.ts"]

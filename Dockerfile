# One image for postroom-worker, the m365-emulator and the postroom CLI. The first stage compiles
# the TypeScript sources; the final stage runs the compiled JavaScript with plain Node.js and
# only the production dependencies.

FROM node:20-slim AS build
WORKDIR /app
ENV TURBO_TELEMETRY_DISABLED=1

# Manifests first, so that the dependency layer is rebuilt only when they change. Every
# workspace package needs its package.json here and in the final stage; add a line to both
# when you add a workspace.
COPY package.json package-lock.json .npmrc ./
COPY packages/core/package.json packages/core/
COPY packages/client/package.json packages/client/
COPY apps/worker/package.json apps/worker/
COPY apps/cli/package.json apps/cli/
COPY apps/m365-emulator/package.json apps/m365-emulator/
# --ignore-scripts skips the root prepare script, which would build before the sources are here.
RUN npm ci --ignore-scripts --no-audit --no-fund

COPY . .
RUN npm run build


FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production

# The bin/ files go in before npm ci, so that npm links postroom, postroom-worker and
# m365-emulator into node_modules/.bin (npx postroom ... works in the container).
COPY package.json package-lock.json .npmrc ./
COPY packages/core/package.json packages/core/
COPY packages/client/package.json packages/client/
COPY apps/worker/package.json apps/worker/
COPY apps/worker/bin apps/worker/bin/
COPY apps/cli/package.json apps/cli/
COPY apps/cli/bin apps/cli/bin/
COPY apps/m365-emulator/package.json apps/m365-emulator/
COPY apps/m365-emulator/bin apps/m365-emulator/bin/
# --ignore-scripts: the prepare script needs the build tools, which --omit=dev leaves out.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

COPY --from=build /app/packages/core/dist packages/core/dist/
COPY --from=build /app/packages/client/dist packages/client/dist/
COPY --from=build /app/apps/worker/dist apps/worker/dist/
COPY --from=build /app/apps/cli/dist apps/cli/dist/
COPY --from=build /app/apps/m365-emulator/dist apps/m365-emulator/dist/
# Example messages for `postroom send --file examples/messages.jsonl`.
COPY examples examples/

# The emulator writes its CA certificate here; in docker-compose a volume shares it with workers.
RUN mkdir -p /emulator-state && chown node:node /emulator-state
USER node

EXPOSE 9464
CMD ["node", "apps/worker/dist/main.js"]

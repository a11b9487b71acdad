# agent-batcher: Node 24 runs the TypeScript sources directly (type stripping), no build step.
FROM node:24-slim

ENV NODE_ENV=production
# Node's module compile cache (what `npm start` turns on in scripts/require-node.mjs): a restart
# of the container strips and compiles no module again.
ENV NODE_COMPILE_CACHE=/tmp/node-compile-cache
WORKDIR /app

# No install scripts run (--ignore-scripts, as .ci/run's copy of this recipe; .npmrc would skip
# onnxruntime-node's anyway: it fetches GPU libraries from outside, and the CPU build ships in the
# package); the pruning keeps only its linux binaries.
COPY package.json package-lock.json .npmrc ./
COPY scripts/prune-onnxruntime.ts ./scripts/
RUN npm ci --omit=dev --ignore-scripts && node scripts/prune-onnxruntime.ts && npm cache clean --force

COPY src ./src
COPY workers ./workers

USER node
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"

# The same entry point and V8 settings as `npm start` (both flags were chosen by
# measurement: bench/RESULTS.md, "Open requests"). node runs as PID 1 and handles SIGTERM itself (graceful drain).
CMD ["node", "--max-semi-space-size=16", "--max-old-space-size=2047", "src/main.ts"]

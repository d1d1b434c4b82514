/// <reference types="vitest/config" />
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

// cleanDist empties dist before a build but keeps dist/.keep, which is
// committed so that the Go embed compiles before the first build (Vite's
// own emptyOutDir would delete it).
function cleanDist(dir: string): Plugin {
  return {
    name: 'ccd-clean-dist',
    apply: 'build',
    buildStart() {
      let names: string[] = [];
      try {
        names = readdirSync(dir);
      } catch {
        return;
      }
      for (const name of names) if (name !== '.keep') rmSync(join(dir, name), { recursive: true, force: true });
    },
  };
}

// The desktop is served by ccd at /desk/ (agentdesk/web.Handler). In `npm run
// dev`, the API and the event WebSocket are proxied to a ccd on
// CCD_URL (default http://127.0.0.1:8080).
const ccd = process.env.CCD_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/desk/',
  plugins: [react(), cleanDist('dist')],
  build: {
    outDir: 'dist',
    emptyOutDir: false, // cleanDist does it
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: {
      '/api/v1/events': { target: ccd, ws: true },
      '/api/': { target: ccd },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});

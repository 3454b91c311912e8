/**
 * The web app build: two pages (login, and the station with the patient view), Preact via its
 * preset. Output in web/dist, served by the HTTP server; no inline scripts or styles, so the
 * server's strict CSP (script-src/style-src 'self') holds.
 */
import { resolve } from 'node:path';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

const root = import.meta.dirname;

export default defineConfig({
  root,
  plugins: [preact({ devToolsEnabled: false, prefreshEnabled: false })],
  build: {
    outDir: resolve(root, 'dist'),
    emptyOutDir: true,
    // Keep CSS in files (never inlined into JS or HTML) for the CSP.
    assetsInlineLimit: 0,
    cssCodeSplit: true,
    modulePreload: { polyfill: false },
    target: 'es2022',
    reportCompressedSize: false,
    rollupOptions: {
      input: { station: resolve(root, 'index.html'), login: resolve(root, 'login.html') },
    },
  },
  server: {
    proxy: { '/api': 'http://127.0.0.1:8080', '/socket.io': { target: 'ws://127.0.0.1:8080', ws: true } },
  },
});

// vite builds ui/ into static files that cmake/ui.cmake embeds in sluice-net (docs/ui.md).
// base './': asset URLs are relative, so the UI works under any prefix a proxy puts it at.
import { defineConfig } from 'vite';

export default defineConfig({
  base: './',
  build: { target: 'es2022', assetsInlineLimit: 0, chunkSizeWarningLimit: 400 },
});

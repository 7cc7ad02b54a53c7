// The web UI's files (docs/ui.md), embedded in sluice-net by a .cc that cmake/embed_ui.cmake
// generates from vite's dist folder at build time; only ui_assets.cc reads them.
#pragma once

#include <cstddef>
#include <span>

namespace sluice {

struct UiFile {
  const char* path;  // "/index.html", "/assets/index-HASH.js"
  const unsigned char* data;
  size_t size;
};

// Every file of the UI's build; empty when sluice-net was built with -DSLUICE_UI=OFF.
std::span<const UiFile> UiFiles();

}  // namespace sluice

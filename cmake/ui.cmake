# The web UI (docs/ui.md): ui/ is built with vite from the npm packages of its committed lockfile
# and its files are embedded in sluice-net by one generated .cc (ui_files.cc), which only
# src/server/ui_assets.cc reads through ui_files.h. A user of the binary needs no Node.
#
# `npm ci` runs only when the lockfile changed (a stamp in the build tree), `vite build` when a
# source of ui/ changed. -DSLUICE_UI=OFF builds without the UI (the server then answers / with a
# page saying so).
option(SLUICE_UI "Build the web UI into sluice-net (needs Node >= 20.19 and npm)" ON)
set(SLUICE_UI_NODE_MIN 20.19)
set(ui_src ${CMAKE_CURRENT_SOURCE_DIR}/ui)
set(ui_out ${CMAKE_CURRENT_BINARY_DIR}/ui)
set(ui_cc ${ui_out}/ui_files.cc)
if(SLUICE_UI)
  find_program(NODE_PROGRAM node)
  find_program(NPM_PROGRAM npm)
  set(node_version "")
  if(NODE_PROGRAM)
    execute_process(COMMAND ${NODE_PROGRAM} --version OUTPUT_VARIABLE node_version
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    string(REGEX REPLACE "^v" "" node_version "${node_version}")
  endif()
  if(NOT NODE_PROGRAM OR NOT NPM_PROGRAM OR node_version VERSION_LESS SLUICE_UI_NODE_MIN)
    if(NOT NODE_PROGRAM OR NOT NPM_PROGRAM)
      set(found "no node/npm on PATH")
    else()
      set(found "found node ${node_version} at ${NODE_PROGRAM}")
    endif()
    # NOTICE prints the line as it is (FATAL_ERROR would wrap it); then stop.
    message(NOTICE "sluice: the web UI needs Node >= ${SLUICE_UI_NODE_MIN} with npm to build (${found}): install it, or configure with -DSLUICE_UI=OFF to build without the UI")
    message(FATAL_ERROR "Node is missing or too old (the line above)")
  endif()
  file(GLOB_RECURSE ui_sources CONFIGURE_DEPENDS ${ui_src}/src/* ${ui_src}/index.html
       ${ui_src}/vite.config.js)
  add_custom_command(OUTPUT ${ui_out}/npm-ci.stamp
                     DEPENDS ${ui_src}/package-lock.json ${ui_src}/package.json
                     COMMAND ${NPM_PROGRAM} ci --no-audit --no-fund --loglevel=error
                     COMMAND ${CMAKE_COMMAND} -E touch ${ui_out}/npm-ci.stamp
                     WORKING_DIRECTORY ${ui_src}
                     COMMENT "npm ci (ui/package-lock.json)")
  add_custom_command(OUTPUT ${ui_cc}
                     DEPENDS ${ui_out}/npm-ci.stamp ${ui_sources}
                             ${CMAKE_CURRENT_SOURCE_DIR}/cmake/embed_ui.cmake
                     COMMAND ${NODE_PROGRAM} node_modules/vite/bin/vite.js build --logLevel warn
                             --outDir ${ui_out}/dist --emptyOutDir
                     COMMAND ${CMAKE_COMMAND} -DDIST=${ui_out}/dist -DOUT=${ui_cc}
                             -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/embed_ui.cmake
                     WORKING_DIRECTORY ${ui_src}
                     COMMENT "vite build (ui/) and embedding its files")
else()
  add_custom_command(OUTPUT ${ui_cc}
                     DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cmake/embed_ui.cmake
                     COMMAND ${CMAKE_COMMAND} -DDIST= -DOUT=${ui_cc}
                             -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/embed_ui.cmake
                     COMMENT "embedding no web UI (-DSLUICE_UI=OFF)")
endif()
add_library(sluice_ui_files STATIC ${ui_cc})
target_include_directories(sluice_ui_files PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/src)

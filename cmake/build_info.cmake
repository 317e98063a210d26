# Run at every build (target swap_build_info): record the commit the sources are at NOW, with "-dirty" when
# tracked files differ from it, in build_info.h. configure_file rewrites the header only when its content
# changes, so an unchanged tree recompiles nothing.
#   cmake -DSRC=<source dir> -DIN=<build_info.h.in> -DOUT=<build_info.h> -DVERSION=... -DC_ID=... -DC_VERSION=...
#         -DCFLAGS=... -DBUILD_TYPE=... -P build_info.cmake
execute_process(COMMAND git --no-optional-locks rev-parse HEAD WORKING_DIRECTORY ${SRC}
                OUTPUT_VARIABLE SWAP_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT SWAP_GIT_COMMIT)
  set(SWAP_GIT_COMMIT "unknown")
  set(SWAP_GIT_DIRTY 0)
else()
  execute_process(COMMAND git --no-optional-locks status --porcelain --untracked-files=no WORKING_DIRECTORY ${SRC}
                  OUTPUT_VARIABLE status OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(status)
    set(SWAP_GIT_DIRTY 1)
    string(APPEND SWAP_GIT_COMMIT "-dirty")
  else()
    set(SWAP_GIT_DIRTY 0)
  endif()
endif()
set(SWAP_VERSION "${VERSION}")
set(CMAKE_C_COMPILER_ID "${C_ID}")
set(CMAKE_C_COMPILER_VERSION "${C_VERSION}")
set(SWAP_CFLAGS "${CFLAGS}")
set(CMAKE_BUILD_TYPE "${BUILD_TYPE}")
configure_file(${IN} ${OUT} @ONLY)

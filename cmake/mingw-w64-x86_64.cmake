# Cross-compiles for 64-bit Windows with Debian's mingw-w64 (gcc-mingw-w64-x86-64).
#   cmake -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake ...
# Programs built here run under Wine, which is also the emulator for try_run and tests.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(GPUPV_MINGW_TRIPLE x86_64-w64-mingw32)

# the default (win32) thread model: no winpthread DLL to ship
set(CMAKE_C_COMPILER ${GPUPV_MINGW_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${GPUPV_MINGW_TRIPLE}-g++)
set(CMAKE_RC_COMPILER ${GPUPV_MINGW_TRIPLE}-windres)
set(CMAKE_AR ${GPUPV_MINGW_TRIPLE}-ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${GPUPV_MINGW_TRIPLE}-ranlib CACHE FILEPATH "")

set(CMAKE_FIND_ROOT_PATH /usr/${GPUPV_MINGW_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(GPUPV_WINE wine)
if(GPUPV_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${GPUPV_WINE})
endif()

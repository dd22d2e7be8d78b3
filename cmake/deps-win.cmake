# The libraries for a mingw-w64 build: static builds made by scripts/win-deps.sh, whose
# prefixes GPUPV_WIN_DEPS lists, plus Debian's mingw zlib and Windows' own import libraries.
set(GPUPV_WIN_DEPS "" CACHE STRING "Prefixes of the mingw libraries (scripts/win-deps.sh)")

# gpupv_win_import(VAR HEADER LIBRARY [SYSTEM_LIBS...]): sets VAR to an imported target.
function(gpupv_win_import var header library)
  string(MAKE_C_IDENTIFIER "${library}" id)
  find_path(${id}_INCLUDE ${header} PATHS ${GPUPV_WIN_DEPS} PATH_SUFFIXES include
            NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH)
  find_library(${id}_LIBRARY NAMES lib${library}.a PATHS ${GPUPV_WIN_DEPS} PATH_SUFFIXES lib
               NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH)
  if(NOT ${id}_INCLUDE OR NOT ${id}_LIBRARY)
    message(FATAL_ERROR "${library} for mingw not found in GPUPV_WIN_DEPS; run scripts/win-deps.sh")
  endif()
  add_library(gpupv_win_${id} INTERFACE IMPORTED)
  set_target_properties(gpupv_win_${id} PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${${id}_INCLUDE}"
    INTERFACE_LINK_LIBRARIES "${${id}_LIBRARY};${ARGN}")
  set(${var} gpupv_win_${id} PARENT_SCOPE)
endfunction()

gpupv_win_import(GPUPV_LIB_UV uv.h uv ws2_32 iphlpapi userenv dbghelp ole32 shell32 psapi)
gpupv_win_import(GPUPV_LIB_CJSON cjson/cJSON.h cjson)
gpupv_win_import(GPUPV_LIB_CRYPTO openssl/evp.h crypto ws2_32 crypt32 bcrypt advapi32 user32)
# libssl.a needs libcrypto.a after it on the link line: named again here, not left to order
gpupv_win_import(GPUPV_LIB_SSL openssl/ssl.h ssl ${crypto_LIBRARY} ws2_32 crypt32 bcrypt advapi32
  user32)
find_library(GPUPV_ZLIB NAMES libz.a REQUIRED)
gpupv_win_import(GPUPV_LIB_ARCHIVE archive.h archive ${GPUPV_ZLIB} bcrypt)
set_property(TARGET ${GPUPV_LIB_ARCHIVE} APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS
  LIBARCHIVE_STATIC)
gpupv_win_import(GPUPV_LIB_MHD microhttpd.h microhttpd ws2_32)
set_property(TARGET ${GPUPV_LIB_MHD} APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS MHD_W32LIB)

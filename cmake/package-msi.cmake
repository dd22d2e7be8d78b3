# The Windows installers, gpupv-host.msi and gpupv-guest.msi, built on Debian with msitools'
# wixl from packaging/windows/*.wxs (packaging/README.md, docs/windows.md). A build without
# wixl makes none; scripts/win-build.sh installs it.
find_program(GPUPV_WIXL wixl)
if(GPUPV_WIXL)
  set(msis "")
  # wixl takes source paths relative to where it runs (an absolute one is not found)
  file(RELATIVE_PATH build_rel ${PROJECT_SOURCE_DIR} ${CMAKE_BINARY_DIR})
  foreach(component host guest)
    set(msi ${CMAKE_BINARY_DIR}/gpupv-${component}.msi)
    set(wxs ${PROJECT_SOURCE_DIR}/packaging/windows/gpupv-${component}.wxs)
    add_custom_command(OUTPUT ${msi}
      COMMAND ${GPUPV_WIXL} -a x64 -D Version=${PROJECT_VERSION} -D BuildDir=${build_rel}
              -D SourceDir=. -o ${msi} ${wxs}
      WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
      DEPENDS ${wxs} ${PROJECT_SOURCE_DIR}/packaging/windows/${component}d.json
              gpupv-${component}d $<$<STREQUAL:${component},host>:gpupv>
      COMMENT "Building gpupv-${component}.msi" VERBATIM)
    list(APPEND msis ${msi})
  endforeach()
  add_custom_target(gpupv-msi ALL DEPENDS ${msis})
endif()

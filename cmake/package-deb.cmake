# Installing on Linux, and the Debian packages made from it with CPack (packaging/README.md):
#   gpupv-host   gpupv-hostd, gpupv, the unit, /etc/gpupv/hostd.json
#   gpupv-guest  gpupv-guestd, the unit, /etc/gpupv/guestd.json
# `cmake --install` with CMAKE_INSTALL_PREFIX=/usr puts the programs where the units run them;
# `cpack -G DEB` (scripts/package.sh) makes both packages.
set(GPUPV_UNIT_DIR /lib/systemd/system CACHE PATH "Where the systemd units are installed")
set(GPUPV_MAINTAINER "gpupv maintainers <maintainers@gpupv.invalid>" CACHE STRING
    "The packages' Maintainer field")


foreach(component host guest)
  install(FILES packaging/${component}d.json DESTINATION /etc/gpupv COMPONENT ${component})
  install(FILES packaging/systemd/gpupv-${component}d.service
          packaging/systemd/gpupv-${component}d-modules.service DESTINATION ${GPUPV_UNIT_DIR}
          COMPONENT ${component})
  install(FILES README.md packaging/debian/copyright ${CMAKE_BINARY_DIR}/debian/changelog.gz
          DESTINATION share/doc/gpupv-${component} COMPONENT ${component})
  install(FILES packaging/README.md DESTINATION share/doc/gpupv-${component}
          COMPONENT ${component} RENAME PACKAGING.md)
endforeach()
# the guest's install root: the unit's sandbox needs it to exist (it stays after a purge when
# it holds drivers)
install(DIRECTORY DESTINATION /usr/lib/wsl COMPONENT guest)
# Manual pages from each program's --help and --version (help2man: scripts/package.sh installs
# it; a build without it installs none).
find_program(GPUPV_HELP2MAN help2man)
if(GPUPV_HELP2MAN)
  set(man_pages "")
  foreach(spec "gpupv-hostd|host|publishes the host's GPU driver files to GPU-PV guests"
               "gpupv|host|shows and drives the gpupv host agent"
               "gpupv-guestd|guest|installs the host's GPU driver files in a GPU-PV guest")
    string(REPLACE "|" ";" spec "${spec}")
    list(GET spec 0 program)
    list(GET spec 1 component)
    list(GET spec 2 summary)
    set(page ${CMAKE_BINARY_DIR}/man/${program}.1.gz)
    add_custom_command(OUTPUT ${page}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
      COMMAND ${GPUPV_HELP2MAN} -N -n "${summary}" -o ${CMAKE_BINARY_DIR}/man/${program}.1
              $<TARGET_FILE:${program}>
      COMMAND gzip -9nf ${CMAKE_BINARY_DIR}/man/${program}.1
      DEPENDS ${program} VERBATIM)
    list(APPEND man_pages ${page})
    install(FILES ${page} DESTINATION share/man/man1 COMPONENT ${component})
  endforeach()
  add_custom_target(gpupv-man-pages ALL DEPENDS ${man_pages})
endif()

# a native package's changelog, compressed as Debian policy wants it
configure_file(packaging/debian/changelog ${CMAKE_BINARY_DIR}/debian/changelog @ONLY)
execute_process(COMMAND gzip -9nf ${CMAKE_BINARY_DIR}/debian/changelog)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME gpupv)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${GPUPV_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL host guest)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/gpupv/gpupv")
set(CPACK_DEBIAN_HOST_PACKAGE_NAME gpupv-host)
set(CPACK_DEBIAN_GUEST_PACKAGE_NAME gpupv-guest)
set(CPACK_DEBIAN_HOST_PACKAGE_DEPENDS "init-system-helpers (>= 1.54~)")
set(CPACK_DEBIAN_GUEST_PACKAGE_DEPENDS "init-system-helpers (>= 1.54~)")
set(CPACK_COMPONENT_HOST_DESCRIPTION "GPU-PV driver publisher for Hyper-V and KVM hosts
gpupv-hostd finds the host's GPU driver packages and WSL libraries, signs a
content-hashed manifest of them and pushes each guest what it lacks over VM
sockets (or tls://). It serves a dashboard and Prometheus /metrics. The gpupv
command shows each guest's state and pushes on demand.")
set(CPACK_COMPONENT_GUEST_DESCRIPTION "GPU-PV driver receiver for Linux guests
gpupv-guestd receives the host's GPU driver files, verifies every byte against
the signed manifest, installs them into /usr/lib/wsl atomically (keeping the
previous generation), updates the loader's paths and reports whether the GPU
works, with a fix for each failing check.")

# The maintainer scripts: enable and start the unit on install, restart it on upgrade, stop
# it on removal, forget it on purge (what dh_installsystemd writes).
foreach(component host guest)
  string(TOUPPER ${component} upper)
  set(GPUPV_UNIT gpupv-${component}d.service)
  set(GPUPV_STATE_NAME gpupv-${component}d)
  set(GPUPV_STATE_DIR /var/lib/${GPUPV_STATE_NAME})
  set(scripts "")
  foreach(script postinst prerm postrm)
    configure_file(packaging/debian/${script}.in
                   ${CMAKE_BINARY_DIR}/debian/${component}/${script} @ONLY
                   FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
                   GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
    list(APPEND scripts ${CMAKE_BINARY_DIR}/debian/${component}/${script})
  endforeach()
  file(WRITE ${CMAKE_BINARY_DIR}/debian/${component}/conffiles
       "/etc/gpupv/${component}d.json\n")
  list(APPEND scripts ${CMAKE_BINARY_DIR}/debian/${component}/conffiles)
  set(CPACK_DEBIAN_${upper}_PACKAGE_CONTROL_EXTRA ${scripts})
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)

# Install-time part of the layout (run by `cmake --install` and by cpack), so that paths follow the
# prefix given then: prefix /usr -> /etc/casedesk and /lib/systemd/system (Debian 12); any other
# prefix P -> P/etc/casedesk and P/lib/systemd/system. Expects CASEDESK_SOURCE_DIR and
# CASEDESK_BINARY_DIR; honours DESTDIR like install() does.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(confdir "/etc/casedesk")
  set(unitdir "/lib/systemd/system")
else()
  set(confdir "${CMAKE_INSTALL_PREFIX}/etc/casedesk")
  set(unitdir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()

# The config is the operator's once it exists: never overwritten (the package marks it a conffile).
if(EXISTS "$ENV{DESTDIR}${confdir}/casedesk.toml")
  message(STATUS "Kept (already there): $ENV{DESTDIR}${confdir}/casedesk.toml")
else()
  file(INSTALL "${CASEDESK_BINARY_DIR}/packaging/casedesk.toml" DESTINATION "${confdir}"
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
endif()
file(INSTALL "${CASEDESK_SOURCE_DIR}/packaging/casedesk.service" DESTINATION "${unitdir}"
     PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

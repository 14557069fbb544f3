# The Debian package (CPack DEB): `cpack -G DEB` in the build directory.
# /usr/bin: voxrelay, voxctl, voxload; the systemd unit; the default
# configuration and the logrotate rule for end-of-call records (conffiles);
# man pages. Runtime dependencies come from
# dpkg-shlibdeps. The package does not enable or start the service.
include(GNUInstallDirs)
set(VOX_PKG ${PROJECT_SOURCE_DIR}/tools/packaging)
install(TARGETS voxrelay voxctl voxload RUNTIME DESTINATION bin)
install(FILES ${VOX_PKG}/voxrelay.service DESTINATION lib/systemd/system)
install(FILES ${VOX_PKG}/voxrelay.conf DESTINATION /etc/voxrelay)
install(FILES ${VOX_PKG}/voxrelay.logrotate DESTINATION /etc/logrotate.d RENAME voxrelay)
install(FILES ${VOX_PKG}/voxrelay.8 ${VOX_PKG}/voxctl.8 DESTINATION share/man/man8)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME voxrelay)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "voxrelay maintainers <voxrelay@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "media relay and transcoder for telephony (NG protocol, rtpengine-compatible)")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "voxrelay relays and transcodes the audio of phone calls between SIP trunks\n and IP clients (G.711 <-> Opus, SRTP, ICE and DTLS-SRTP toward browsers),\n driven by Kamailio or OpenSIPS over rtpengine's NG control protocol.")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)  # the package without debug info
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${VOX_PKG}/conffiles)
include(CPack)

# libsrtp2 for SRTP, as the interface target vox::srtp. Preferred: the static
# OpenSSL build that tools/build_srtp.sh makes from Debian's own source
# package (tools/setup.sh runs it). Fallback, with a warning: Debian's
# packaged libsrtp2, built on NSS, which costs ~170x more per srtp_create and
# ~4.6x more per AES-CM packet (TARGETS.md). vox::srtp carries
# VOX_SRTP_OPENSSL=1 or 0 so the code can report which one it runs on.

set(VOX_SRTP_PREFIX "" CACHE PATH
    "libsrtp2 OpenSSL build prefix (tools/build_srtp.sh prints it); empty: look in the default caches")

set(_vox_srtp_prefix "${VOX_SRTP_PREFIX}")
if(NOT _vox_srtp_prefix)
  # Same search order as tools/build_srtp.sh writes: $VOX_CACHE_DIR, the system
  # cache, the user's cache. The "-current" symlink names the finished build.
  foreach(_dir "$ENV{VOX_CACHE_DIR}" /var/cache/voxrelay "$ENV{HOME}/.cache/voxrelay")
    if(_dir AND EXISTS "${_dir}/libsrtp2-openssl-current/.complete")
      set(_vox_srtp_prefix "${_dir}/libsrtp2-openssl-current")
      break()
    endif()
  endforeach()
endif()

add_library(vox_srtp INTERFACE)
add_library(vox::srtp ALIAS vox_srtp)

if(_vox_srtp_prefix AND EXISTS "${_vox_srtp_prefix}/lib/libsrtp2.a"
   AND EXISTS "${_vox_srtp_prefix}/include/srtp2/srtp.h")
  find_package(OpenSSL REQUIRED COMPONENTS Crypto)
  add_library(vox_srtp_static STATIC IMPORTED GLOBAL)
  set_target_properties(vox_srtp_static PROPERTIES
    IMPORTED_LOCATION "${_vox_srtp_prefix}/lib/libsrtp2.a"
    INTERFACE_SYSTEM_INCLUDE_DIRECTORIES "${_vox_srtp_prefix}/include"
    INTERFACE_INCLUDE_DIRECTORIES "${_vox_srtp_prefix}/include"
    INTERFACE_LINK_LIBRARIES "OpenSSL::Crypto;Threads::Threads;${CMAKE_DL_LIBS}")
  target_link_libraries(vox_srtp INTERFACE vox_srtp_static)
  target_compile_definitions(vox_srtp INTERFACE VOX_SRTP_OPENSSL=1)
  # A rebuilt cache (new Debian version) re-runs configure.
  if(NOT VOX_SRTP_PREFIX)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_vox_srtp_prefix}/.complete")
  endif()
  message(STATUS "libsrtp2: OpenSSL static build in ${_vox_srtp_prefix}")
else()
  if(VOX_SRTP_PREFIX)
    message(WARNING "VOX_SRTP_PREFIX=${VOX_SRTP_PREFIX} holds no libsrtp2 build "
                    "(lib/libsrtp2.a, include/srtp2/srtp.h)")
  endif()
  pkg_check_modules(SRTP2 REQUIRED IMPORTED_TARGET libsrtp2)
  target_link_libraries(vox_srtp INTERFACE PkgConfig::SRTP2)
  target_compile_definitions(vox_srtp INTERFACE VOX_SRTP_OPENSSL=0)
  message(WARNING
    "libsrtp2: no OpenSSL build found (run tools/build_srtp.sh or set VOX_SRTP_PREFIX); "
    "using Debian's packaged libsrtp2, which is built on NSS: srtp_create costs ~0.8 ms "
    "instead of ~5 us and AES-CM protect/unprotect ~2.7 us instead of ~0.6 us per packet.")
endif()

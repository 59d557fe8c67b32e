# Finds hiredis (Debian: libhiredis-dev) for the optional tollgate::redis
# target and defines the imported target tollgate_hiredis::hiredis. Used by
# the build and by the installed tollgateConfig.cmake alike, so a consumer
# gets tollgate::redis exactly when it has hiredis too. (Debian's hiredis 0.14
# ships a CMake config with variables only, no target.)
if(NOT TARGET tollgate_hiredis::hiredis)
  find_path(TOLLGATE_HIREDIS_INCLUDE_DIR hiredis/hiredis.h)
  find_library(TOLLGATE_HIREDIS_LIBRARY NAMES hiredis)
  mark_as_advanced(TOLLGATE_HIREDIS_INCLUDE_DIR TOLLGATE_HIREDIS_LIBRARY)
  if(TOLLGATE_HIREDIS_INCLUDE_DIR AND TOLLGATE_HIREDIS_LIBRARY)
    add_library(tollgate_hiredis::hiredis UNKNOWN IMPORTED)
    set_target_properties(tollgate_hiredis::hiredis PROPERTIES
      IMPORTED_LOCATION "${TOLLGATE_HIREDIS_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${TOLLGATE_HIREDIS_INCLUDE_DIR}")
  endif()
endif()

// tollgate version, read by CMake from this header (the single source of truth).
#pragma once

#define TOLLGATE_VERSION_MAJOR 0
#define TOLLGATE_VERSION_MINOR 1
#define TOLLGATE_VERSION_PATCH 0
#define TOLLGATE_VERSION                                                   \
  (TOLLGATE_VERSION_MAJOR * 10000 + TOLLGATE_VERSION_MINOR * 100 +         \
   TOLLGATE_VERSION_PATCH)

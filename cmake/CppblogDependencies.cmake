# The libraries common/ needs, found once, the way the build asks for (static or shared). Included
# by the top-level CMakeLists.txt and by common/CMakeLists.txt when common/ is built on its own;
# cmake/cppblog-config.cmake.in finds the same packages for the installed library.
include_guard(GLOBAL)

if(CPPBLOG_STATIC)
  set(Boost_USE_STATIC_LIBS ON)
endif()
find_package(Boost 1.81 REQUIRED COMPONENTS json url)
find_package(rabbitmq-c CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(yaml-cpp CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(Threads REQUIRED)
find_path(LMDB_INCLUDE_DIR lmdb.h REQUIRED)
if(CPPBLOG_STATIC)
  find_library(LMDB_LIBRARY NAMES liblmdb.a REQUIRED)
else()
  find_library(LMDB_LIBRARY NAMES lmdb REQUIRED)
endif()
# prometheus-cpp's core (registry data model, text serializer; not its civetweb exposer), for
# cppblog_metrics. Found by hand: its CMake package also asks for civetweb. Debian ships only the
# shared object, so even the static build links it (docs/operations.md, "Linking").
find_path(PROMETHEUS_CPP_INCLUDE_DIR prometheus/text_serializer.h REQUIRED)
find_library(PROMETHEUS_CPP_CORE_LIBRARY NAMES prometheus-cpp-core REQUIRED)

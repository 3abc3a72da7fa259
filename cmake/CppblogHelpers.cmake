# cppblog::warnings — the warning set every target of ours compiles with. Only in this build:
# the installed package exports it (the libraries name it) empty, so that it never changes how
# a user's code compiles.
add_library(cppblog_warnings INTERFACE)
add_library(cppblog::warnings ALIAS cppblog_warnings)
target_compile_options(cppblog_warnings INTERFACE
  "$<BUILD_INTERFACE:-Wall;-Wextra;-Wpedantic;-Wshadow;-Wconversion;-Wno-sign-conversion>"
  # GCC 12 at -O3 reports false -Wrestrict overlaps inside std::string (GCC bug 105651) and
  # false -Wmaybe-uninitialized on strings of aggregates built with designated initializers.
  "$<BUILD_INTERFACE:$<$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>:-Wno-restrict;-Wno-maybe-uninitialized>>"
  "$<BUILD_INTERFACE:$<$<BOOL:${CPPBLOG_WERROR}>:-Werror>>")

# cppblog::third_party — the libraries linked once, the way the build asks for
# (static or shared), so targets name them without repeating that choice.
add_library(cppblog_lmdb INTERFACE)
add_library(cppblog::lmdb ALIAS cppblog_lmdb)
target_include_directories(cppblog_lmdb SYSTEM INTERFACE ${LMDB_INCLUDE_DIR})
target_link_libraries(cppblog_lmdb INTERFACE ${LMDB_LIBRARY} Threads::Threads)

add_library(cppblog_prometheus_core INTERFACE)
add_library(cppblog::prometheus_core ALIAS cppblog_prometheus_core)
target_include_directories(cppblog_prometheus_core SYSTEM INTERFACE ${PROMETHEUS_CPP_INCLUDE_DIR})
target_link_libraries(cppblog_prometheus_core INTERFACE ${PROMETHEUS_CPP_CORE_LIBRARY})

# yaml-cpp's CMake package names only the shared object; a static build takes the .a
# Debian ships (the shared one would pull libstdc++.so and libm back into the process).
add_library(cppblog_yaml_cpp INTERFACE)
add_library(cppblog::yaml_cpp ALIAS cppblog_yaml_cpp)
if(CPPBLOG_STATIC)
  find_library(YAML_CPP_STATIC_LIBRARY NAMES libyaml-cpp.a REQUIRED)
  target_include_directories(cppblog_yaml_cpp SYSTEM INTERFACE
    $<TARGET_PROPERTY:yaml-cpp,INTERFACE_INCLUDE_DIRECTORIES>)
  target_link_libraries(cppblog_yaml_cpp INTERFACE ${YAML_CPP_STATIC_LIBRARY})
else()
  target_link_libraries(cppblog_yaml_cpp INTERFACE yaml-cpp)
endif()

add_library(cppblog_spdlog INTERFACE)
add_library(cppblog::spdlog ALIAS cppblog_spdlog)
add_library(cppblog_rabbitmq INTERFACE)
add_library(cppblog::rabbitmq ALIAS cppblog_rabbitmq)
if(CPPBLOG_STATIC)
  # Debian ships no static spdlog/fmt; the header-only forms avoid two shared objects.
  target_link_libraries(cppblog_spdlog INTERFACE spdlog::spdlog_header_only fmt::fmt-header-only)
  # rabbitmq-c's static target still names the shared libssl/libcrypto (1.7 MB of a service's
  # resident memory). An executable with the property CPPBLOG_STATIC_OPENSSL gets Debian's
  # static ones instead; only for executables that load no shared library needing OpenSSL
  # (two OpenSSL copies in one process would interpose each other's symbols).
  # CPPBLOG_SHARED_OPENSSL=ON gives them the shared ones after all: for a process that loads a
  # shared library needing OpenSSL anyway (the vipservice image with libpq, deploy/containers),
  # where a static copy would be a second one (4 MB of the executable).
  option(CPPBLOG_SHARED_OPENSSL "Link OpenSSL shared even into the lean executables" OFF)
  find_library(OPENSSL_SSL_STATIC_LIBRARY NAMES libssl.a REQUIRED)
  find_library(OPENSSL_CRYPTO_STATIC_LIBRARY NAMES libcrypto.a REQUIRED)
  set(static_openssl "$<AND:$<BOOL:$<TARGET_PROPERTY:CPPBLOG_STATIC_OPENSSL>>,$<NOT:$<BOOL:${CPPBLOG_SHARED_OPENSSL}>>>")
  target_link_libraries(cppblog_rabbitmq INTERFACE
    "$<$<NOT:${static_openssl}>:rabbitmq::rabbitmq-static>"
    "$<${static_openssl}:$<TARGET_FILE:rabbitmq::rabbitmq-static>;${OPENSSL_SSL_STATIC_LIBRARY};${OPENSSL_CRYPTO_STATIC_LIBRARY};${CMAKE_DL_LIBS};Threads::Threads>")
  target_include_directories(cppblog_rabbitmq SYSTEM INTERFACE
    $<TARGET_PROPERTY:rabbitmq::rabbitmq-static,INTERFACE_INCLUDE_DIRECTORIES>)
  # libstdc++ and libgcc statically, unless CPPBLOG_STATIC_LIBSTDCXX=OFF: Debian's prometheus-cpp
  # core is a shared library that needs libstdc++.so.6, so every service loads that too, and an
  # executable with its own copy also exports most of it to that library (1.6 MB of the
  # vipservice). The images link them shared, one copy (deploy/containers/Containerfile).
  option(CPPBLOG_STATIC_LIBSTDCXX "Link libstdc++ and libgcc statically (with CPPBLOG_STATIC)" ON)
  if(CPPBLOG_STATIC_LIBSTDCXX)
    add_link_options(-static-libstdc++ -static-libgcc)
  endif()
  add_link_options(-Wl,--gc-sections)
  add_compile_options(-ffunction-sections -fdata-sections)
else()
  target_link_libraries(cppblog_spdlog INTERFACE spdlog::spdlog)
  target_link_libraries(cppblog_rabbitmq INTERFACE rabbitmq::rabbitmq)
endif()

# cppblog_lean_executable(TARGET): a service kept small in resident memory (docs/benchmarks.md)
# when CPPBLOG_STATIC: OpenSSL linked statically (see above), unused shared objects not loaded,
# and no PIE, so that start-up relocations of the static libraries' pointer tables (OpenSSL's
# above all) dirty no pages: about 1 MB less idle RSS. The price of -no-pie: the executable's
# own image is not address-randomised (libraries, stacks and heap still are). -z now binds
# every symbol at start-up, so the loader's code and the libraries' symbol tables are not
# needed later and stay out once the working set is trimmed (ADR 0006: about 0.4 MB idle).
function(cppblog_lean_executable target)
  if(CPPBLOG_STATIC)
    set_target_properties(${target} PROPERTIES CPPBLOG_STATIC_OPENSSL ON)
    target_link_options(${target} PRIVATE LINKER:--as-needed LINKER:-z,now -no-pie)
  endif()
endfunction()

# cppblog_add_test(NAME LABEL unit|integration|e2e SOURCES ... LINK ... [PROPERTIES ...])
# One test executable, linked with gmock_main, its tests discovered and labelled.
function(cppblog_add_test name)
  cmake_parse_arguments(ARG "" "LABEL" "SOURCES;LINK;PROPERTIES" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LINK} GTest::gmock_main cppblog::warnings)
  set(labels ${ARG_LABEL})
  gtest_discover_tests(${name}
    DISCOVERY_TIMEOUT 30
    PROPERTIES LABELS "${labels}" ${ARG_PROPERTIES})
endfunction()

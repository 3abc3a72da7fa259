# The installed library (included at the end of common/CMakeLists.txt, once every module is
# defined): `cmake --install` puts the public headers, cppblog/version.hpp, the static libraries,
# the CMake package `cppblog` (find_package(cppblog), targets cppblog::<module>), cppblog.pc and,
# through CPack, the Debian package cppblog-dev there. docs/messaging.md shows how to use it.
#
# Every static library and INTERFACE target defined in common/CMakeLists.txt is exported, found
# by listing the directory's targets: a new module is in the package without an edit here. A
# module's export name is its target name without "cppblog_" (cppblog_web: cppblog::web, the
# same name as its alias in this tree); the mocks' target is cppblog::testing.
include_guard(GLOBAL)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(cppblog_package_component cppblog-dev)
set(cppblog_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/cppblog)
set(cppblog_generated_include ${CMAKE_CURRENT_BINARY_DIR}/generated/include)
get_filename_component(cppblog_repository_root ${CMAKE_CURRENT_LIST_DIR}/.. ABSOLUTE)

# --- cppblog/version.hpp, generated into the build tree ---------------------------------------
if(NOT DEFINED PROJECT_VERSION_PATCH OR PROJECT_VERSION_PATCH STREQUAL "")
  set(cppblog_version_patch 0)
else()
  set(cppblog_version_patch ${PROJECT_VERSION_PATCH})
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/version.hpp.in
  ${cppblog_generated_include}/cppblog/version.hpp @ONLY)
# Installed, it sits beside the other headers (every module's include path); in a build tree
# (add_subdirectory), link cppblog::version. The modules do not: their compile lines, and so
# ccache's hits, stay as they were.
add_library(cppblog_version INTERFACE)
add_library(cppblog::version ALIAS cppblog_version)
target_include_directories(cppblog_version INTERFACE ${cppblog_generated_include})

# --- the exported targets -----------------------------------------------------------------------
# The libraries name these (cmake/CppblogHelpers.cmake) in their link interface, so they are
# exported too, as this build made them: static or shared dependencies, header-only spdlog.
set(cppblog_third_party cppblog_warnings cppblog_lmdb cppblog_yaml_cpp cppblog_spdlog
  cppblog_rabbitmq cppblog_prometheus_core)
get_property(cppblog_directory_targets DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
  PROPERTY BUILDSYSTEM_TARGETS)
set(cppblog_modules "")
foreach(target IN LISTS cppblog_directory_targets)
  get_target_property(type ${target} TYPE)
  if(target MATCHES "^cppblog_" AND type MATCHES "^(STATIC_LIBRARY|INTERFACE_LIBRARY)$"
     AND NOT target IN_LIST cppblog_third_party)
    list(APPEND cppblog_modules ${target})
  endif()
endforeach()

foreach(target IN LISTS cppblog_modules)
  get_target_property(type ${target} TYPE)
  string(REGEX REPLACE "^cppblog_" "" export_name ${target})
  if(target STREQUAL "cppblog_common_testing")
    set(export_name testing)
  endif()
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${export_name})
  # The modules say `PUBLIC include` (a path in this tree); installed, their headers are under
  # <prefix>/include. Paths in the source or build tree are kept for this build only.
  get_target_property(include_dirs ${target} INTERFACE_INCLUDE_DIRECTORIES)
  set(mapped "")
  if(include_dirs)
    foreach(dir IN LISTS include_dirs)
      if(dir MATCHES "^(${cppblog_repository_root}|${CMAKE_BINARY_DIR})(/|$)")
        list(APPEND mapped "$<BUILD_INTERFACE:${dir}>")
      elseif(PostgreSQL_INCLUDE_DIRS AND dir IN_LIST PostgreSQL_INCLUDE_DIRS)
        # pq: libpq's header dir as this machine has it; the package config adds the user's.
        list(APPEND mapped "$<BUILD_INTERFACE:${dir}>")
      else()
        list(APPEND mapped "${dir}")
      endif()
    endforeach()
  endif()
  list(APPEND mapped "$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>")
  set_target_properties(${target} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${mapped}")
  # The public headers are C++20.
  set_property(TARGET ${target} APPEND PROPERTY INTERFACE_COMPILE_FEATURES cxx_std_20)
endforeach()

foreach(target IN LISTS cppblog_third_party)
  string(REGEX REPLACE "^cppblog_" "" export_name ${target})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${export_name})
endforeach()

install(TARGETS ${cppblog_modules} ${cppblog_third_party}
  EXPORT cppblog-targets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT ${cppblog_package_component})
install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/include/cppblog
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT ${cppblog_package_component}
  FILES_MATCHING PATTERN "*.hpp")
# The mocks of cppblog::testing (the storage test helpers stay this tree's own).
install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/testing/include/cppblog/messaging
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/cppblog COMPONENT ${cppblog_package_component}
  FILES_MATCHING PATTERN "mock_*.hpp")
install(FILES ${cppblog_generated_include}/cppblog/version.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/cppblog COMPONENT ${cppblog_package_component})
install(EXPORT cppblog-targets
  NAMESPACE cppblog::
  DESTINATION ${cppblog_cmake_dir} COMPONENT ${cppblog_package_component})

# --- the CMake package ----------------------------------------------------------------------------
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/cppblog-config.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/cppblog-config.cmake
  INSTALL_DESTINATION ${cppblog_cmake_dir})
# 0.x: a minor version may change the API.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/cppblog-config-version.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/cppblog-config.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/cppblog-config-version.cmake
  DESTINATION ${cppblog_cmake_dir} COMPONENT ${cppblog_package_component})

# --- pkg-config -------------------------------------------------------------------------------------
# One cppblog.pc for all modules, static libraries in a linker group (no order to get right); the
# prefix is found from the .pc file's own place, so the installed tree can be moved.
set(cppblog_pc_libs "")
foreach(target IN LISTS cppblog_modules)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "STATIC_LIBRARY")
    string(APPEND cppblog_pc_libs " -l${target}")
  endif()
endforeach()
set(cppblog_pc_requires "librabbitmq openssl yaml-cpp lmdb prometheus-cpp-core")
# PostgreSQL: cppblog_pq (under cppblog_inbox_pg and cppblog_outbox_pg) needs libpq's header (its
# Cflags); libpq.so.5 is loaded at run time, not linked, so libpq is a private requirement (no
# -lpq).
set(cppblog_pc_requires_private "")
if(TARGET cppblog_pq)
  set(cppblog_pc_requires_private "libpq")
endif()
if(NOT CPPBLOG_STATIC)  # a static build compiles spdlog and fmt in (header-only)
  string(APPEND cppblog_pc_requires " spdlog")
endif()
file(RELATIVE_PATH cppblog_pc_to_prefix
  /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" cppblog_pc_to_prefix "${cppblog_pc_to_prefix}")  # e.g. ../.. for lib/pkgconfig
configure_file(${CMAKE_CURRENT_LIST_DIR}/cppblog.pc.in ${CMAKE_CURRENT_BINARY_DIR}/cppblog.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/cppblog.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT ${cppblog_package_component})

# --- cpack -G DEB: cppblog-dev_<version>_<arch>.deb, the library component only -----------------
set(CPACK_PACKAGE_NAME cppblog-dev)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "cppblog messaging, configuration and web libraries (static) with CMake and pkg-config files")
set(CPACK_PACKAGE_CONTACT "cppblog maintainers <cppblog@localhost>")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_CMAKE_PROJECTS "${CMAKE_BINARY_DIR};cppblog;${cppblog_package_component};/")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
  "libboost1.81-dev, libboost-json1.81-dev, libboost-url1.81-dev, librabbitmq-dev, libssl-dev, liblmdb-dev, libyaml-cpp-dev, libspdlog-dev, libcli11-dev, prometheus-cpp-dev, libpq-dev")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libgmock-dev")
include(CPack)

# --- the package test: install, build examples/ against the prefix alone, run the examples ---------
# Only in builds without sanitizers (the examples link the installed libraries as they are).
if(CPPBLOG_BUILD_TESTS AND NOT CMAKE_CXX_FLAGS MATCHES "-fsanitize"
   AND EXISTS ${cppblog_repository_root}/examples/run_examples.sh)
  add_test(NAME common_package_examples
    COMMAND ${cppblog_repository_root}/examples/run_examples.sh ${CMAKE_BINARY_DIR}
            -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE} -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER})
  set_tests_properties(common_package_examples PROPERTIES
    LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 600
    ENVIRONMENT "CXX=${CMAKE_CXX_COMPILER}")
endif()
# docs/messaging.md quotes its C++ snippets from examples/ (compiled by the test above); this fails
# when a quoted snippet and its file differ, or a ```cpp block quotes no file.
if(CPPBLOG_BUILD_TESTS AND EXISTS ${cppblog_repository_root}/examples/check_doc_snippets.sh)
  add_test(NAME docs_messaging_snippets
    COMMAND ${cppblog_repository_root}/examples/check_doc_snippets.sh
            ${cppblog_repository_root}/docs/messaging.md)
  set_tests_properties(docs_messaging_snippets PROPERTIES LABELS unit)
endif()

#===- seqcInstall.cmake - Install rules and in-tree model targets --------===#
#
# Part of seqc. Included from the top-level CMakeLists.txt after the
# compiler and the runtime are defined. It
#  - installs the runtime library and its headers (the seqc executable's
#    rule is in compiler/driver) and the CMake package: seqcConfig.cmake,
#    seqcConfigVersion.cmake and seqcAddModel.cmake in
#    <prefix>/lib/cmake/seqc, so apps can find_package(seqc);
#  - defines seqc::seqc and seqc::runtime as aliases of the in-tree targets
#    and includes seqcAddModel.cmake, so seqc_add_model() works in this
#    build without installing (tests/app uses it).
#
#===----------------------------------------------------------------------===#

include(CMakePackageConfigHelpers)

# Whether `seqc compile --target cpu` works; seqc_add_model checks it.
set(SEQC_CPU_BACKEND ${SEQC_ENABLE_LLVM})

if(TARGET seqc AND NOT TARGET seqc::seqc)
  add_executable(seqc::seqc ALIAS seqc)
endif()
if(TARGET seqc_runtime AND NOT TARGET seqc::runtime)
  add_library(seqc::runtime ALIAS seqc_runtime)
endif()
include(${CMAKE_CURRENT_LIST_DIR}/seqcAddModel.cmake)

set(SEQC_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/seqc)

if(NOT TARGET seqc_runtime)
  message(FATAL_ERROR "seqcInstall.cmake: include it after runtime/")
endif()
install(TARGETS seqc_runtime ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${PROJECT_SOURCE_DIR}/runtime/ThreadPool.h
              ${PROJECT_SOURCE_DIR}/runtime/Weights.h
              ${PROJECT_SOURCE_DIR}/runtime/seqc_cuda_runtime.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/seqc)

configure_package_config_file(
  ${CMAKE_CURRENT_LIST_DIR}/seqcConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/seqcConfig.cmake
  INSTALL_DESTINATION ${SEQC_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_BINDIR CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR)
# 0.x releases make no promise across minor versions.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/cmake/seqcConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cmake/seqcConfig.cmake
              ${PROJECT_BINARY_DIR}/cmake/seqcConfigVersion.cmake
              ${CMAKE_CURRENT_LIST_DIR}/seqcAddModel.cmake
        DESTINATION ${SEQC_INSTALL_CMAKEDIR})

# `cmake --install`: the public headers, libkvpress.so, a CMake package (find_package(kvpress) ->
# kvpress::kvpress) and a pkg-config file (pkg-config --cflags --libs kvpress).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

file(GLOB KVPRESS_PUBLIC_HEADERS ${CMAKE_SOURCE_DIR}/include/kvpress/*.h)
install(FILES ${KVPRESS_PUBLIC_HEADERS} ${CMAKE_BINARY_DIR}/include/kvpress/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/kvpress)
install(TARGETS kvpress_shared EXPORT kvpressTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
set(KVPRESS_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/kvpress)
install(EXPORT kvpressTargets NAMESPACE kvpress:: DESTINATION ${KVPRESS_CMAKE_DIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/kvpressConfig.cmake.in
  ${CMAKE_BINARY_DIR}/cmake/kvpressConfig.cmake INSTALL_DESTINATION ${KVPRESS_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/cmake/kvpressConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/cmake/kvpressConfig.cmake ${CMAKE_BINARY_DIR}/cmake/kvpressConfigVersion.cmake
        DESTINATION ${KVPRESS_CMAKE_DIR})
# pkg-config: the prefix is found from the .pc file's own folder, so any --prefix given to `cmake --install`
# (or a moved tree) works.
file(RELATIVE_PATH KVPRESS_PC_UP "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
configure_file(${CMAKE_SOURCE_DIR}/cmake/kvpress.pc.in ${CMAKE_BINARY_DIR}/cmake/kvpress.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/cmake/kvpress.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# SPDX-License-Identifier: Apache-2.0
# cmake -DBINARY=<exe> -DBUNDLE_DIR=<dir> -DLOADER=<ld.so> -P bundle.cmake
# Copies the executable, the dynamic loader and the transitive shared-library
# closure of the executable into BUNDLE_DIR (binary at the top, libraries in
# lib/), replacing any previous bundle. Build-time tooling, not product code.
foreach(var BINARY BUNDLE_DIR LOADER)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "bundle.cmake: ${var} is not set")
  endif()
endforeach()

file(REMOVE_RECURSE ${BUNDLE_DIR})
file(MAKE_DIRECTORY ${BUNDLE_DIR}/lib)

file(GET_RUNTIME_DEPENDENCIES
  EXECUTABLES ${BINARY}
  RESOLVED_DEPENDENCIES_VAR resolved
  UNRESOLVED_DEPENDENCIES_VAR unresolved)
if(unresolved)
  message(FATAL_ERROR "bundle.cmake: unresolved libraries: ${unresolved}")
endif()

get_filename_component(loader_name ${LOADER} NAME)
get_filename_component(loader_real ${LOADER} REALPATH)
file(COPY_FILE ${loader_real} ${BUNDLE_DIR}/lib/${loader_name})
file(CHMOD ${BUNDLE_DIR}/lib/${loader_name} PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
     GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(listing "${loader_name}\n")
foreach(lib IN LISTS resolved)
  get_filename_component(name ${lib} NAME)
  if(name STREQUAL loader_name)
    continue()
  endif()
  get_filename_component(real ${lib} REALPATH)
  # Keep the SONAME as the file name: that is what DT_NEEDED asks for.
  file(COPY_FILE ${real} ${BUNDLE_DIR}/lib/${name})
  string(APPEND listing "${name}\n")
endforeach()
get_filename_component(binary_name ${BINARY} NAME)
file(COPY_FILE ${BINARY} ${BUNDLE_DIR}/${binary_name})
if(STRIP)
  # Debug info stays in the build tree; the initramfs gets a small binary.
  execute_process(COMMAND ${STRIP} --strip-unneeded ${BUNDLE_DIR}/${binary_name}
                  RESULT_VARIABLE strip_result)
  if(NOT strip_result EQUAL 0)
    message(FATAL_ERROR "bundle.cmake: strip failed")
  endif()
endif()
file(CHMOD ${BUNDLE_DIR}/${binary_name} PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
     GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
file(WRITE ${BUNDLE_DIR}/MANIFEST "${binary_name}\n${listing}")
